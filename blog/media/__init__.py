"""A blog's media: uploaded images, their variants, and where their files are stored."""
