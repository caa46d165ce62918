"""Tour section: the perceptron on logic gates and its capacity against Cover's theorem."""
import numpy as np

KEY = "perceptron"
TITLE = "Perceptron: logic gates and capacity"

#: What this section needs of the installation: (module of nnfast, name).
NEEDS = ()

_GATES_2 = ("and", "or", "xor")
_GATES_4 = ("and", "or", "xor")


def n_steps(ctx):
    """Progress steps of :func:`run`."""
    return 2


def _gate_figure(exercises, path, two_inputs):
    from ..plotting import plot_decision_line, plot_perceptron_errors
    from ..plotting._style import new_figure, save

    n = len(exercises)
    fig = new_figure(3.6 * n, 6.6 if two_inputs else 3.4)
    axes = fig.subplots(2 if two_inputs else 1, n, squeeze=False)
    for col, ex in enumerate(exercises):
        verdict = "learned" if ex.learned else "not learned"
        name = ex.gate.upper() if ex.gate != "xor" or ex.n_inputs == 2 else "Parity"
        plot_perceptron_errors(ex.model, ax=axes[0, col],
                               title=f"{name}: {verdict} ({ex.n_epochs} epochs)")
        if two_inputs:
            plot_decision_line(ex.model, ex.X, ex.y, ax=axes[1, col], title=f"{name}: decision line")
    inputs = "two" if two_inputs else "four"
    fig.suptitle(f"Perceptron on logic gates with {inputs} inputs (\u00b11 coding, online rule)",
                 fontsize=12, fontweight="bold")
    return save(fig, path)


def run(ctx):
    """Train the gates, run the capacity sweep, fill ``ctx.result``."""
    from ..models import logic_gate_exercise, perceptron_capacity

    res = ctx.result
    res.intro = (
        "A single perceptron (the online rule, inputs and outputs coded -1/+1) learns every "
        "linearly separable gate in a few epochs and never learns XOR: its errors never reach "
        "zero. Cover's theorem says how many random labellings of p random patterns in N "
        "dimensions a perceptron can separate; the fraction falls from 1 to 0 around p = 2N.")
    exercises = {}
    for n_inputs, gates in ((2, _GATES_2), (4, _GATES_4)):
        for gate in gates:
            exercises[gate, n_inputs] = logic_gate_exercise(
                gate, n_inputs, max_epochs=20 if gate == "xor" else 100)
    _gate_figure([exercises[g, 2] for g in _GATES_2],
                 ctx.figure("perceptron_gates_2.png",
                            "Two inputs: errors per epoch (top) and the learned line (bottom). "
                            "XOR's four points cannot be split by one line."), True)
    _gate_figure([exercises[g, 4] for g in _GATES_4],
                 ctx.figure("perceptron_gates_4.png",
                            "Four inputs: AND and OR are learned; 4-bit parity is not."), False)
    ctx.table("Logic gates", ["gate", "inputs", "patterns", "learned", "epochs",
                              "errors in the last epoch"],
              [[g.upper(), n, 2 ** n, ex.learned, ex.n_epochs, ex.errors[-1]]
               for (g, n), ex in exercises.items()])
    ctx.step("capacity")

    n = ctx.size(20, 40, 50)
    trials = ctx.size(20, 40, 50)
    max_epochs = ctx.size(300, 1000, 1000)
    result = perceptron_capacity(n_features=n, n_patterns=range(n // 10, 3 * n + 1, n // 10),
                                 n_trials=trials, max_epochs=max_epochs, random_state=0)
    result.plot(path=ctx.figure(
        "perceptron_capacity.png",
        f"Fraction of random \u00b11 labellings of p random patterns (N = {n}) that the perceptron "
        f"learns within {max_epochs} epochs, against Cover's fraction; right: epochs needed."))
    alpha = result.n_patterns / n
    keep = np.isclose(alpha * 2, np.round(alpha * 2))  # p/N = 0.5, 1, 1.5, ...
    ctx.table("Capacity sweep", ["p", "p / N", "fraction learned", "Cover's fraction",
                                 "mean epochs (learned trials)"],
              [[int(p), float(a), float(f), float(c), float(e)]
               for p, a, f, c, e in zip(result.n_patterns[keep], alpha[keep],
                                        result.fraction_learned[keep], result.theory[keep],
                                        result.mean_epochs[keep])],
              note=f"N = {n}, {result.n_trials} trials per p, no bias; the rows where p is a "
                   "multiple of N/2 (the figure has every p).")
    at_2n = int(np.flatnonzero(result.n_patterns == 2 * n)[0])
    measured, cover = float(result.fraction_learned[at_2n]), float(result.theory[at_2n])
    res.notes.append(
        "At p = 2N Cover's fraction is exactly 1/2. The measured fraction lies below the curve "
        "just under capacity because the epochs the perceptron needs grow without bound as p "
        "approaches 2N, so some separable labellings run out of epochs.")
    learned = [f"{g.upper()}-{n_in}" for (g, n_in), ex in exercises.items() if ex.learned]
    failed = [f"{g.upper()}-{n_in}" for (g, n_in), ex in exercises.items() if not ex.learned]
    res.summary = (f"learned {', '.join(learned)}; not {', '.join(failed)}; at p = 2N "
                   f"{measured:.2f} learned (Cover {cover:.2f})")
    res.numbers = {"gates": {f"{g}_{n_in}": ex.learned for (g, n_in), ex in exercises.items()},
                   "capacity_n": n, "fraction_learned_at_2n": measured,
                   "cover_fraction_at_2n": cover}
    ctx.step()
