"""Video decoding, datasets, clip sampling and augmentation."""
