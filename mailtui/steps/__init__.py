"""The install steps, one module each (steps/order.py lists them in the order the engine applies them),
and the step contract they share (steps/base.py) with its resources."""
