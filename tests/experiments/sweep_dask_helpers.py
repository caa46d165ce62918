"""An estimator for the Dask sweep tests: it kills its own worker process once.

Imported by name on the workers (the tests put this folder on ``sys.path``
before they start the cluster, and the worker processes inherit it), so it
lives in a module of its own rather than in a test file.
"""
import os
import signal

from nnfast import MLPClassifier

#: Folder (from the environment, which the workers inherit) of the marker file and attempt log.
FOLDER_VARIABLE = "NNFAST_SWEEP_TEST_FOLDER"

#: The run with this hidden layer kills its worker the first time it starts.
DOOMED = (7,)


class KillOnceMLP(MLPClassifier):
    """An MLPClassifier whose run with ``hidden_layer_sizes=DOOMED`` kills its process once.

    Every run's first epoch appends its hidden layer sizes to ``attempts.log``;
    the doomed run then creates ``killed`` and kills the process, unless
    ``killed`` already exists (its retry), in which case it trains normally.
    """

    def partial_fit(self, X, y, classes=None):
        if not hasattr(self, "model_"):
            folder = os.environ[FOLDER_VARIABLE]
            with open(os.path.join(folder, "attempts.log"), "a") as log:
                log.write(f"{tuple(self.hidden_layer_sizes)}\n")
            if tuple(self.hidden_layer_sizes) == DOOMED:
                try:
                    fd = os.open(os.path.join(folder, "killed"), os.O_CREAT | os.O_EXCL)
                except FileExistsError:
                    pass
                else:
                    os.close(fd)
                    os.kill(os.getpid(), signal.SIGKILL)
        return super().partial_fit(X, y, classes=classes)
