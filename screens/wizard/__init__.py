"""The install wizard: welcome, one form per step, review, install progress, verify."""
