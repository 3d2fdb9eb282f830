"""The measurements of issue 12, one file each."""
