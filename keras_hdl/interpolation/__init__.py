"""Temporal interpolation: which frames are kept, and the interpolators that fill the gaps.

Every interpolator — linear, Horn–Schunck optical flow, and the networks — follows
:class:`~keras_hdl.interpolation.plan.Interpolator`, so evaluation and synthesis treat
them alike.
"""
