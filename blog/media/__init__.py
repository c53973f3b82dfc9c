"""Media: uploaded images and where their files are stored."""
