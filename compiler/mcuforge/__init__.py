from .errors import McuforgeError
