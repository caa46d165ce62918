"""Reference restricted Boltzmann machine operations.

Written against ``self.xp`` so the same code runs on numpy and cupy.  The
compiled :class:`~nnfast.backend.cpu_rbm.CpuRBMOps` overrides the hot paths
and is tested against these methods.

Model and conventions
---------------------
A Bernoulli RBM with visible units ``v`` (``n_visible``) and hidden units
``h`` (``n_hidden``) has the energy

    E(v, h) = -b_vis . v - b_hid . h - h . (W v)

with ``W`` of shape ``(n_hidden, n_visible)`` (one row per hidden unit, so a
row is that unit's filter), hence

    p(h_j = 1 | v) = sigmoid(W_j . v + b_hid_j)
    p(v_i = 1 | h) = sigmoid(h . W[:, i] + b_vis_i)
    F(v) = -b_vis . v - sum_j softplus(W_j . v + b_hid_j)

A Bernoulli sample of probability ``p`` from a uniform draw ``u`` in [0, 1)
is ``1 if u < p else 0``.  Every random draw of an operation comes either
from arrays of uniforms passed by the caller (so two implementations can be
compared draw for draw) or from ``seed``: the same seed (and ``step``) gives
the same draws on the same backend.

Contrastive divergence (CD-k, Hinton 2002) and persistent CD (PCD-k,
Tieleman 2008) follow Hinton's practical guide (2010): the chain is driven by
*sampled* hidden and visible states, while the statistics use the hidden
*probabilities*; the final hidden layer of the chain is never sampled.
Parameter updates ascend the log-likelihood and modify ``W``, ``b_vis``,
``b_hid`` and the velocities in place.  Weight decay (L2) applies to ``W``
only, not to the biases.
"""
import numbers

from ._base import BaseOps

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15

#: Largest number of states :meth:`RBMOps.rbm_log_partition` enumerates.
MAX_ENUMERATED_UNITS = 24


def mix_seed(seed, step):
    """Derive the 63-bit seed of update ``step`` from ``seed`` (splitmix64 finaliser).

    Parameters
    ----------
    seed, step : int

    Returns
    -------
    int in [0, 2**63)
    """
    z = (int(seed) + (int(step) + 1) * _GOLDEN) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (z ^ (z >> 31)) >> 1


def check_seed(seed):
    """Raise unless ``seed`` is a non-negative integer below 2**64."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 1 << 64:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {seed!r}")
    return int(seed)


class RBMOps(BaseOps):
    """Sampling, free energy and contrastive-divergence updates of Bernoulli RBMs."""

    # ------------------------------------------------------------ elementwise
    def _uniform(self, seed, shape, dtype):
        if seed is None:
            raise ValueError("pass either uniform draws or a seed")
        return self.random_uniform(self.rng(check_seed(seed)), shape, dtype=dtype)

    def sigmoid_bernoulli(self, pre, bias=None, uniform=None, seed=None, prob_out=None,
                          sample_out=None):
        """Sigmoid probabilities and Bernoulli samples of them, in one pass.

        Parameters
        ----------
        pre : ndarray of shape (n_samples, n_units)
            Pre-activations.
        bias : ndarray of shape (n_units,), optional
            Added to ``pre`` before the sigmoid.
        uniform : ndarray of shape (n_samples, n_units), optional
            Uniform draws in [0, 1); drawn from ``seed`` when not given.
        seed : int, optional
            Seed of the draws when ``uniform`` is not given.
        prob_out, sample_out : ndarray of shape (n_samples, n_units), optional
            Buffers for the results (``prob_out`` may be ``pre``).

        Returns
        -------
        prob : ndarray of shape (n_samples, n_units)
            ``sigmoid(pre + bias)``.
        sample : ndarray of shape (n_samples, n_units)
            ``1.0`` where ``uniform < prob``, else ``0.0``.
        """
        z = pre if bias is None else pre + bias
        prob = self._sigmoid(z)
        if uniform is None:
            uniform = self._uniform(seed, pre.shape, pre.dtype)
        sample = (uniform < prob).astype(pre.dtype)
        if prob_out is not None:
            prob_out[...] = prob
            prob = prob_out
        if sample_out is not None:
            sample_out[...] = sample
            sample = sample_out
        return prob, sample

    # -------------------------------------------------------------- one layer
    def rbm_hidden_probs(self, v, W, b_hid, out=None):
        """``p(h = 1 | v) = sigmoid(v @ W.T + b_hid)``.

        Parameters
        ----------
        v : ndarray of shape (n_samples, n_visible)
        W : ndarray of shape (n_hidden, n_visible)
        b_hid : ndarray of shape (n_hidden,)
        out : ndarray of shape (n_samples, n_hidden), optional

        Returns
        -------
        ndarray of shape (n_samples, n_hidden)
        """
        prob = self._sigmoid(v @ W.T + b_hid)
        if out is None:
            return prob
        out[...] = prob
        return out

    def rbm_visible_probs(self, h, W, b_vis, out=None):
        """``p(v = 1 | h) = sigmoid(h @ W + b_vis)``.

        Parameters
        ----------
        h : ndarray of shape (n_samples, n_hidden)
        W : ndarray of shape (n_hidden, n_visible)
        b_vis : ndarray of shape (n_visible,)
        out : ndarray of shape (n_samples, n_visible), optional

        Returns
        -------
        ndarray of shape (n_samples, n_visible)
        """
        prob = self._sigmoid(h @ W + b_vis)
        if out is None:
            return prob
        out[...] = prob
        return out

    # ----------------------------------------------------------------- energy
    def rbm_free_energy(self, v, W, b_vis, b_hid, out=None):
        """Free energy ``F(v) = -b_vis . v - sum_j softplus(W_j . v + b_hid_j)``.

        ``p(v) = exp(-F(v)) / Z``.  The products are taken in the input's
        dtype, the rest in float64.

        Parameters
        ----------
        v : ndarray of shape (n_samples, n_visible)
        W : ndarray of shape (n_hidden, n_visible)
        b_vis : ndarray of shape (n_visible,)
        b_hid : ndarray of shape (n_hidden,)
        out : ndarray of shape (n_samples,), optional

        Returns
        -------
        ndarray of shape (n_samples,) of float64
        """
        pre = (v @ W.T).astype("float64") + b_hid
        fe = -(v @ b_vis).astype("float64") - self._softplus(pre).sum(axis=1)
        if out is None:
            return fe
        out[...] = fe
        return out

    def rbm_pseudo_likelihood(self, v, W, b_vis, b_hid, index, out=None):
        """Stochastic pseudo-log-likelihood: one visible unit per sample.

        For sample ``n`` and unit ``i = index[n]``, with ``v'`` equal to ``v``
        except ``v'_i = 1 - v_i``, returns
        ``n_visible * log sigmoid(F(v') - F(v))``, an unbiased estimate (over
        the choice of ``i``) of ``sum_i log p(v_i | v_-i)`` for binary ``v``.

        Parameters
        ----------
        v : ndarray of shape (n_samples, n_visible)
        W : ndarray of shape (n_hidden, n_visible)
        b_vis : ndarray of shape (n_visible,)
        b_hid : ndarray of shape (n_hidden,)
        index : ndarray of shape (n_samples,) of int
            Unit flipped in each sample.
        out : ndarray of shape (n_samples,), optional

        Returns
        -------
        ndarray of shape (n_samples,) of float64
        """
        xp = self.xp
        rows = xp.arange(v.shape[0])
        flipped = v.copy()
        flipped[rows, index] = 1 - flipped[rows, index]
        delta = self.rbm_free_energy(flipped, W, b_vis, b_hid) - self.rbm_free_energy(v, W, b_vis, b_hid)
        # log sigmoid(x) = -softplus(-x)
        pll = -v.shape[1] * self._softplus(-delta)
        if out is None:
            return pll
        out[...] = pll
        return out

    def rbm_log_partition(self, W, b_vis, b_hid):
        """Exact ``log Z`` by enumerating every state of the smaller layer.

        Parameters
        ----------
        W : ndarray of shape (n_hidden, n_visible)
        b_vis : ndarray of shape (n_visible,)
        b_hid : ndarray of shape (n_hidden,)

        Returns
        -------
        float

        Raises
        ------
        ValueError
            When both layers have more than ``MAX_ENUMERATED_UNITS`` units.
        """
        xp = self.xp
        n_hidden, n_visible = W.shape
        W64 = W.astype("float64")
        a, b = b_vis.astype("float64"), b_hid.astype("float64")
        if n_hidden <= n_visible:
            n, w_fixed, bias_fixed, bias_free = n_hidden, W64, b, a
        else:
            n, w_fixed, bias_fixed, bias_free = n_visible, W64.T, a, b
        if n > MAX_ENUMERATED_UNITS:
            raise ValueError(
                f"the exact partition function enumerates 2**{n} states; it is available only "
                f"when one layer has at most {MAX_ENUMERATED_UNITS} units")
        bits = xp.arange(n)
        chunk = 1 << min(n, 16)
        parts = []
        for start in range(0, 1 << n, chunk):
            codes = xp.arange(start, min(start + chunk, 1 << n))
            states = ((codes[:, None] >> bits) & 1).astype("float64")
            # Sum out the other layer analytically: log sum_x exp(-E) over its states.
            logp = states @ bias_fixed + self._softplus(states @ w_fixed + bias_free).sum(axis=1)
            m = logp.max()
            parts.append(float(m + xp.log(xp.exp(logp - m).sum())))
        m = max(parts)
        return m + float(xp.log(xp.exp(xp.asarray(parts) - m).sum()))

    # --------------------------------------------------------------- sampling
    def rbm_gibbs(self, v, W, b_vis, b_hid, steps=1, seed=None, uniform_hid=None,
                  uniform_vis=None, out=None):
        """Run ``steps`` block-Gibbs steps ``v -> h -> v`` from ``v``.

        Parameters
        ----------
        v : ndarray of shape (n_samples, n_visible)
            Starting visible states (binary, or probabilities).
        W : ndarray of shape (n_hidden, n_visible)
        b_vis : ndarray of shape (n_visible,)
        b_hid : ndarray of shape (n_hidden,)
        steps : int
            Number of steps (at least 1).
        seed : int, optional
            Seed of the draws when the uniforms are not given.
        uniform_hid : ndarray of shape (steps, n_samples, n_hidden), optional
        uniform_vis : ndarray of shape (steps, n_samples, n_visible), optional
        out : ndarray of shape (n_samples, n_visible), optional
            Receives the final visible sample.

        Returns
        -------
        sample : ndarray of shape (n_samples, n_visible)
            Visible states after the last step.
        prob : ndarray of shape (n_samples, n_visible)
            ``p(v = 1 | h)`` of the last step (a smoother picture of the chain).
        """
        n = v.shape[0]
        n_hidden, n_visible = W.shape
        if uniform_hid is None or uniform_vis is None:
            rng = self.rng(check_seed(seed)) if seed is not None else None
            if rng is None:
                raise ValueError("pass either uniform draws or a seed")
            uniform_hid = self.random_uniform(rng, (steps, n, n_hidden), dtype=v.dtype)
            uniform_vis = self.random_uniform(rng, (steps, n, n_visible), dtype=v.dtype)
        for s in range(steps):
            _, h = self.sigmoid_bernoulli(v @ W.T, b_hid, uniform_hid[s])
            prob, v = self.sigmoid_bernoulli(h @ W, b_vis, uniform_vis[s])
        if out is not None:
            out[...] = v
            v = out
        return v, prob

    # --------------------------------------------------------------- learning
    def rbm_workspace(self, n_samples, n_visible, n_hidden, n_chains=None, dtype="float32"):
        """Scratch buffers for :meth:`rbm_cd_update` / :meth:`rbm_cd_epoch`.

        Allocate once per fit and pass to every update of at most
        ``n_samples`` rows.  The reference implementation allocates its own
        temporaries and returns an empty dict.

        Parameters
        ----------
        n_samples : int
            Largest batch size.
        n_visible, n_hidden : int
        n_chains : int, optional
            Number of persistent chains (None for CD).
        dtype : str

        Returns
        -------
        dict
        """
        return {}

    def rbm_cd_update(self, v0, W, b_vis, b_hid, lr, k=1, momentum=0.0, weight_decay=0.0,
                      velocity=None, chain=None, seed=None, step=0, uniform_hid=None,
                      uniform_vis=None, workspace=None):
        """One CD-k (or PCD-k) update from a batch, in place.

        Positive phase: ``h0 = p(h | v0)``.  Negative phase: a chain starts
        from ``v0`` (CD) or from ``chain`` (PCD) and makes ``k`` steps
        ``h ~ p(h | v)``, ``v ~ p(v | h)``, ending with ``hk = p(h | vk)``.
        With ``n`` data rows and ``m`` chain rows::

            grad_W   = h0.T @ v0 / n - hk.T @ vk / m
            grad_vis = mean(v0) - mean(vk)
            grad_hid = mean(h0) - mean(hk)
            vel = momentum * vel + lr * (grad - weight_decay * W)   # decay on W only
            param += vel

        (without momentum: ``param += lr * (grad - weight_decay * W)``).

        Parameters
        ----------
        v0 : ndarray of shape (n, n_visible)
            The batch, with values in [0, 1].
        W : ndarray of shape (n_hidden, n_visible)
        b_vis : ndarray of shape (n_visible,)
        b_hid : ndarray of shape (n_hidden,)
        lr : float
        k : int
            Gibbs steps of the negative phase.
        momentum, weight_decay : float
        velocity : tuple of 3 ndarray, optional
            ``(vel_W, vel_vis, vel_hid)`` shaped like the parameters; required
            when ``momentum`` is not 0, unused otherwise.
        chain : ndarray of shape (m, n_visible), optional
            Persistent chains (PCD); replaced by their new states.  None for CD
            (then ``m = n``).
        seed : int, optional
            Seed of the draws when the uniforms are not given; together with
            ``step`` it fixes them.
        step : int
            Number of this update (the draws differ from step to step).
        uniform_hid : ndarray of shape (k, m, n_hidden), optional
            Draws for the hidden samples of each step.
        uniform_vis : ndarray of shape (k, m, n_visible), optional
            Draws for the visible samples of each step.
        workspace : dict, optional
            From :meth:`rbm_workspace`.

        Returns
        -------
        float or 0-d array
            Sum over the batch of the squared reconstruction error (a 0-d
            array of the backend in the reference, so a GPU need not stop)
            ``sum((v0 - r)**2)``.  For CD, ``r = p(v | h0 sample)``, the first
            visible step of the chain; for PCD, whose chain does not start at
            the data, ``r = p(v | h0)`` (mean-field reconstruction).
        """
        n = v0.shape[0]
        chain_start = v0 if chain is None else chain
        m = chain_start.shape[0]
        n_hidden, n_visible = W.shape
        if uniform_hid is None or uniform_vis is None:
            if seed is None:
                raise ValueError("pass either uniform draws or a seed")
            rng = self.rng(mix_seed(check_seed(seed), step))
            uniform_hid = self.random_uniform(rng, (k, m, n_hidden), dtype=v0.dtype)
            uniform_vis = self.random_uniform(rng, (k, m, n_visible), dtype=v0.dtype)

        h0 = self.rbm_hidden_probs(v0, W, b_hid)
        h_prob = h0 if chain is None else self.rbm_hidden_probs(chain, W, b_hid)
        for s in range(k):
            h_sample = (uniform_hid[s] < h_prob).astype(v0.dtype)
            v_prob = self.rbm_visible_probs(h_sample, W, b_vis)
            if s == 0 and chain is None:
                error = ((v0 - v_prob) ** 2).sum()
            v_sample = (uniform_vis[s] < v_prob).astype(v0.dtype)
            h_prob = self.rbm_hidden_probs(v_sample, W, b_hid)
        if chain is not None:
            error = ((v0 - self.rbm_visible_probs(h0, W, b_vis)) ** 2).sum()
            chain[...] = v_sample

        grad_W = h0.T @ v0 / n - h_prob.T @ v_sample / m
        grad_vis = v0.mean(axis=0) - v_sample.mean(axis=0)
        grad_hid = h0.mean(axis=0) - h_prob.mean(axis=0)
        if weight_decay:
            grad_W = grad_W - weight_decay * W
        if momentum:
            if velocity is None:
                raise ValueError("momentum needs velocity buffers")
            for param, vel, grad in zip((W, b_vis, b_hid), velocity, (grad_W, grad_vis, grad_hid)):
                vel *= momentum
                vel += lr * grad
                param += vel
        else:
            W += lr * grad_W
            b_vis += lr * grad_vis
            b_hid += lr * grad_hid
        return error

    def rbm_cd_epoch(self, X, order, W, b_vis, b_hid, lr, batch_size=1, k=1, momentum=0.0,
                     weight_decay=0.0, velocity=None, chain=None, seed=None, first_step=0,
                     workspace=None):
        """One pass of :meth:`rbm_cd_update` over the rows ``X[order]`` in batches.

        Batch ``i`` holds rows ``order[i * batch_size:(i + 1) * batch_size]``
        and is update number ``first_step + i``, so the result equals that
        sequence of :meth:`rbm_cd_update` calls.  ``batch_size=1`` is the
        classic online rule.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_visible)
        order : ndarray of shape (n_rows,) of int64
            Row indices into ``X`` (a permutation to shuffle, or any selection).
        W, b_vis, b_hid, lr, k, momentum, weight_decay, velocity, chain, workspace
            As for :meth:`rbm_cd_update`.
        batch_size : int
        seed : int
        first_step : int
            Step number of the first batch.

        Returns
        -------
        float or 0-d array
            Sum of the batches' squared reconstruction errors.
        """
        error = 0.0
        order = self.xp.asarray(order)  # once, so that no batch waits for its rows
        for i, start in enumerate(range(0, len(order), batch_size)):
            batch = X[order[start:start + batch_size]]
            error += self.rbm_cd_update(
                batch, W, b_vis, b_hid, lr, k=k, momentum=momentum, weight_decay=weight_decay,
                velocity=velocity, chain=chain, seed=seed, step=first_step + i, workspace=workspace)
        return error
