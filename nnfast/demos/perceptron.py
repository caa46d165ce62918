"""The perceptron demonstration: logic gates and the capacity experiment.

Trains a perceptron on AND and OR with 2 and 4 inputs and on XOR (which it
cannot learn), then measures the fraction of random dichotomies of random
+-1 patterns it learns against Cover's theorem.  Writes one PNG per exercise
and one for the capacity curve.
"""
import os

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
        JSON-able summary: for each gate the epochs run, the errors per epoch
        and whether it was learned; the capacity table; the names of the
        files written (relative to ``output_dir``).

    Examples
    --------
    >>> import tempfile
    >>> from nnfast.demos import perceptron
    >>> summary = perceptron.run(tempfile.mkdtemp(), quick=True)
    >>> [g["learned"] for g in summary["gates"]]
    [True, True, True, True, False]
    """
    os.makedirs(output_dir, exist_ok=True)
    files = []
    gates = []
    for gate, n_inputs in _GATES:
        name = f"perceptron_{gate}_{n_inputs}.png"
        max_epochs = 20 if gate == "xor" else 100
        exercise = logic_gate_exercise(gate, n_inputs, max_epochs=max_epochs,
                                       path=os.path.join(output_dir, name))
        files.append(name)
        gates.append({
            "gate": gate, "n_inputs": n_inputs, "learned": exercise.learned,
            "n_epochs": exercise.n_epochs, "errors": list(exercise.errors),
            "coef": exercise.model.coef_.tolist(), "intercept": exercise.model.intercept_,
        })
    if quick:
        result = perceptron_capacity(n_features=20, n_patterns=range(4, 81, 4), n_trials=20,
                                     max_epochs=500, random_state=0)
    else:
        result = perceptron_capacity(n_features=50, n_patterns=range(5, 151, 5), n_trials=50,
                                     max_epochs=1000, random_state=0)
    name = "perceptron_capacity.png"
    result.plot(path=os.path.join(output_dir, name))
    files.append(name)
    return {"demo": "perceptron", "gates": gates, "capacity": result.to_dict(), "files": files}
