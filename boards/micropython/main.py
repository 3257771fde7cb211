# /main.py of a PyFIDO key; see boards/micropython/app.py, main().
import micropython

micropython.kbd_intr(-1)
from boards.micropython import app

app.main()
