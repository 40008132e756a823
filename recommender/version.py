"""The version, in a module of its own so that modules inside the package can name it
without importing the package's face (``recommender/__init__.py``)."""

__version__ = "0.1.0"
