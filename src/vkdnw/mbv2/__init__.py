"""Table 2: the MobileNetV2 evolutionary search with VKDNW and AZ-NAS scores, and the ImageNet
training of its winner."""
