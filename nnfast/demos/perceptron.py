"""The perceptron demonstration: logic gates and the capacity experiment.

Trains a perceptron on AND and OR with 2 and 4 inputs and on XOR (which it
cannot learn), then measures the fraction of random dichotomies of random
+-1 patterns it learns against Cover's theorem.  Writes one PNG per exercise
and one for the capacity curve.
"""
import os
import time

import numpy as np

from ..models import logic_gate_exercise, perceptron_capacity

__all__ = ["run"]

_GATES = (("and", 2), ("and", 4), ("or", 2), ("or", 4), ("xor", 2))


def run(output_dir, quick=False):
    """Run the demonstration and write its figures into ``output_dir``.

    Parameters
    ----------
    output_dir : str or os.PathLike
        Folder for the PNG files (created when missing).
    quick : bool, default=False
        Run a smaller capacity sweep (N = 20 instead of 50, fewer trials).

    Returns
    -------
    dict
        JSON-able summary: for each gate whether it was learned, the epochs
        run and the errors per epoch; the capacity sweep's settings, its
        table and the measured and theoretical fractions at p = 2N; and
        ``"files"``, the figures written (label to path).

    Examples
    --------
    >>> import tempfile
    >>> from nnfast.demos import perceptron
    >>> summary = perceptron.run(tempfile.mkdtemp(), quick=True)
    >>> [g["learned"] for g in summary["gates"]]
    [True, True, True, True, False]
    """
    os.makedirs(output_dir, exist_ok=True)
    start = time.perf_counter()
    files = {}
    gates = []
    for gate, n_inputs in _GATES:
        label = f"{gate}_{n_inputs}_inputs"
        files[label] = os.path.join(output_dir, f"perceptron_{gate}_{n_inputs}.png")
        exercise = logic_gate_exercise(gate, n_inputs, max_epochs=20 if gate == "xor" else 100,
                                       path=files[label])
        gates.append({
            "gate": gate, "n_inputs": n_inputs, "learned": exercise.learned,
            "n_epochs": exercise.n_epochs, "errors_per_epoch": list(exercise.errors),
        })
    n = 20 if quick else 50
    result = perceptron_capacity(n_features=n, n_patterns=range(n // 10, 3 * n + 1, n // 10),
                                 n_trials=20 if quick else 50, max_epochs=500 if quick else 1000,
                                 random_state=0)
    files["capacity"] = os.path.join(output_dir, "perceptron_capacity.png")
    result.plot(path=files["capacity"])
    at_2n = int(np.flatnonzero(result.n_patterns == 2 * n)[0])
    return {
        "model": "Perceptron (online rule, ±1 coding)",
        "gates": gates,
        "capacity_sweep": f"N = {n}, p = {n // 10}..{3 * n}, {result.n_trials} trials, "
                          f"max_epochs = {result.max_epochs}, no bias",
        "fraction_learned_at_p_2N": float(result.fraction_learned[at_2n]),
        "cover_fraction_at_p_2N": float(result.theory[at_2n]),
        "capacity_table": {k: v for k, v in result.to_dict().items()
                           if k in ("p", "alpha", "fraction_learned", "mean_epochs", "cover")},
        "seconds": round(time.perf_counter() - start, 3),
        "files": files,
    }
