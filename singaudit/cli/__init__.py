"""The singaudit command line."""
