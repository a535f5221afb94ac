"""deskpi: a Raspberry Pi controller for motorised sit-stand desks."""

__version__ = "0.1.0"
