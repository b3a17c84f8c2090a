"""Drop-in replacements for the documented APIs of the systems tokenprovider replaces."""
