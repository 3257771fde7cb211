# /code.py of a PyFIDO key on CircuitPython: run the key (boards/circuitpython/app.py).
from boards.circuitpython import app

app.main()
