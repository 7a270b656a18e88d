"""Reference NumPy LSTM step with Keras's weight layout (gate order i, f, c, o).

This file is also the reference submission for task ``q6_lstm_cell``: a student
file must define a function with the same signature and behaviour.
"""

import numpy as np


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    """One LSTM time step, batch-first.

    x: (batch, input_dim); h, c: (batch, units); kernel: (input_dim, 4 * units);
    recurrent_kernel: (units, 4 * units); bias: (4 * units,). Returns (h_new, c_new).
    """
    z = x @ kernel + h @ recurrent_kernel + bias
    i, f, g, o = np.split(z, 4, axis=-1)
    c_new = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    h_new = _sigmoid(o) * np.tanh(c_new)
    return h_new, c_new
