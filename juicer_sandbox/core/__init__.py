"""The lowest layer: facts every other layer may import (the hook table, shared names)."""
