"""A layer's own stream of random draws (dropout, noise, the VAE's sampler)."""
import numbers

import numpy as np


def check_seed(seed):
    """``seed`` checked: a non-negative integer or None."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
                             or seed < 0):
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    return None if seed is None else int(seed)


class RandomStream:
    """A layer's own stream of random draws: a seed and the count of draws taken.

    A mixin for layers that draw noise in training.  The seed is the layer's
    ``seed`` or, by default, drawn from the model's generator when the layer
    is built; both it and the count are saved with the model, so a loaded
    model goes on with the same draws.  The count is a one-element uint64
    array that a compiled network shares and advances.
    """

    def _build(self, rng):
        self._seed = self.seed if self.seed is not None else int(rng.integers(2**63))
        self._draws = np.zeros(1, np.uint64)

    def _next_draw(self):
        """The number of the draw to take now; the count moves on."""
        draw = int(self._draws[0])
        self._draws[0] += 1
        return draw

    def random_state(self):
        return {"seed": self._seed, "draws": int(self._draws[0])}

    def set_random_state(self, state):
        if (not isinstance(state, dict) or set(state) != {"seed", "draws"}
                or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**64
                           for v in state.values())):
            raise ValueError(f"{type(self).__name__}'s random stream is a seed and a count of "
                             f"draws, got {state!r}")
        self._seed = state["seed"]
        self._draws[0] = state["draws"]
