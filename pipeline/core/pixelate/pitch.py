"""Free pitch detection: the fake-pixel pitch of a render (any real number), and where each grid line lies.

1. **The pitch.** The edge profile's spectrum (a zero-padded FFT) is scored, for each candidate fundamental
   frequency f, by a harmonic sum that subtracts the half-harmonics: ``sum_m (S(m f) - S((m - 1/2) f)) / m``.
   The true pitch p scores highest. Its divisors (p/2, frequency 2f) subtract the odd harmonics of f, which a
   grid at p has; its multiples (2p, frequency f/2) only collect every other term, at half the weight. So a
   multiple of the true pitch never wins (the trap of scoring integer periods and preferring the largest:
   a 23.36 px grid read as 47 px). Both axes add their scores: fake pixels are square to a few per cent.
2. **The lines.** Demodulating the profile at the pitch, in segments of a few cells, gives the local phase of
   the grid (where its lines sit relative to a grid of exactly p from x = 0). Unwrapped across segments and
   fitted by a weighted quadratic in x, its slope corrects the pitch to a fraction of a percent and its
   curvature follows a pitch that drifts across the image (diffusion renders drift by 3-5 %); segments with
   no edges (a flat background margin) carry no weight. Lines are where the grid coordinate
   ``u(x) = (x - phase(x)) / p`` is a whole number, so every line gets its own position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LineFit", "best_pitch", "fit_lines", "harmonic_scores"]

_MIN_FFT = 1 << 12
_HARMONICS = 8
_SEGMENT_CELLS = 4  # demodulation window, in cells (fewer when the canvas holds few cells)
_MIN_WEIGHT = 0.05  # segments weaker than this share of the strongest carry no phase
_ITERATIONS = 2
_F_KEEP = 6.0
_REFIT = 0.015  # demodulate again around the corrected pitch only when it moved more than this


def _max_pool(a: np.ndarray, radius: int) -> np.ndarray:
    out = a.copy()
    for r in range(1, radius + 1):
        out[r:] = np.maximum(out[r:], a[:-r])
        out[:-r] = np.maximum(out[:-r], a[r:])
    return out


def harmonic_scores(
    energy: np.ndarray, min_pitch: float, max_pitch: float, n_fft: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(candidate pitches, score of each): the half-harmonic-corrected harmonic sum of the profile's spectrum."""
    length = len(energy)
    e = energy - energy[1:].mean() if length > 1 else energy
    e[0] = 0.0
    n_fft = n_fft or _n_fft(length)
    spec = np.abs(np.fft.rfft(e, n_fft))
    # A drifting pitch broadens each spectral line: read the peak within half a resolution cell.
    spec = _max_pool(spec, max(1, n_fft // (2 * max(length, 1))))
    k_lo = max(1, int(n_fft / max_pitch))
    k_hi = min(len(spec) - 1, int(np.ceil(n_fft / min_pitch)))
    k = np.arange(k_lo, k_hi + 1, dtype=np.float64)
    last = len(spec) - 1
    score = np.zeros(len(k))
    for m in range(1, _HARMONICS + 1):
        on = np.round(m * k).astype(np.intp)
        half = np.round((m - 0.5) * k).astype(np.intp)
        valid = on <= last
        score += np.where(valid, spec[np.minimum(on, last)] - spec[np.minimum(half, last)], 0.0) / m
    return n_fft / k, score


def _n_fft(length: int) -> int:
    """Zero-padded FFT length: 8x the profile (frequency steps of 1/8 of a resolution cell), a power of two."""
    return max(_MIN_FFT, 1 << int(np.ceil(np.log2(8 * max(length, 1)))))


def best_pitch(energies: list[np.ndarray], lengths: list[int]) -> float:
    """The pitch that best explains the edges of all profiles (summed scores on one frequency grid)."""
    shortest = min(lengths)
    max_pitch = max(3.0, min(256.0, shortest / 5))
    total: np.ndarray | None = None
    pitches = np.empty(0)
    n_fft = _n_fft(max(lengths))
    for e in energies:
        pitches, score = harmonic_scores(e.astype(np.float64), 2.0, max_pitch, n_fft)
        norm = float(np.abs(score).max()) or 1.0
        total = score / norm if total is None else total + score / norm
    assert total is not None
    j = int(np.argmax(total))
    if 0 < j < len(total) - 1:  # parabolic peak: a fraction of a frequency bin
        a, b, c = total[j - 1], total[j], total[j + 1]
        denom = a - 2 * b + c
        shift = 0.5 * (a - c) / denom if denom < 0 else 0.0
        k = n_fft / pitches[j] + float(np.clip(shift, -0.5, 0.5))
        return float(n_fft / k)
    return float(pitches[j])


@dataclass(frozen=True)
class LineFit:
    """Grid lines along one axis: ``u(x) = (x - phase(x)) / pitch`` is whole on every line."""

    pitch: float
    coef: tuple[float, ...]  # phase(x) polynomial in t = x / length, highest power first
    length: int
    weight: float  # total demodulated line strength (0: nothing to fit)

    def u(self, x: np.ndarray) -> np.ndarray:
        return (x - np.polyval(self.coef, x / self.length)) / self.pitch

    def positions(self, k: np.ndarray) -> np.ndarray:
        """Render coordinates of lines ``k`` (whole numbers in grid coordinates)."""
        span = 4 * self.pitch + 4
        xs = np.linspace(-span, self.length + span, int(self.length + 2 * span) + 1)
        us = self.u(xs)
        # outside the sampled span: continue with the end pitches
        lo_slope = (xs[1] - xs[0]) / max(us[1] - us[0], 1e-9)
        hi_slope = (xs[-1] - xs[-2]) / max(us[-1] - us[-2], 1e-9)
        out = np.interp(k, us, xs)
        out = np.where(k < us[0], xs[0] + (k - us[0]) * lo_slope, out)
        return np.where(k > us[-1], xs[-1] + (k - us[-1]) * hi_slope, out)


def _fit_phase(t: np.ndarray, theta: np.ndarray, weight: np.ndarray, pitch: float) -> np.ndarray:
    """Weighted polynomial of the phase: a term of higher degree only when it explains clearly more.

    Degree 1 corrects the pitch, degree 2 follows a drift; the curvature is kept only when it lowers the
    weighted residual by an F statistic above ``_F_KEEP`` (noise in a few segments must not read as drift).
    Segments far off the fit (a stray edge cluster) are dropped once.
    """
    n = len(t)
    sw = np.sqrt(weight)
    best = np.polyfit(t, theta, 0, w=sw) if n else np.zeros(1)
    for deg in (1, 2):  # each against the best so far (a hump has no slope but a clear curvature)
        if n < deg + 3:
            break
        c = np.polyfit(t, theta, deg, w=sw)
        resid = np.abs(np.polyval(c, t) - theta)
        keep = resid <= max(0.2 * pitch, 3 * float(np.median(resid)) + 1e-6)
        if keep.sum() > deg + 2 and not keep.all():
            c = np.polyfit(t[keep], theta[keep], deg, w=sw[keep])
        rss_new = float((weight * (np.polyval(c, t) - theta) ** 2)[keep].sum())
        rss_old = float((weight * (np.polyval(best, t) - theta) ** 2)[keep].sum())
        dof = max(int(keep.sum()) - deg - 1, 1)
        added = deg - (len(best) - 1)
        if (rss_old - rss_new) / max(rss_new, 1e-12) * dof / added >= _F_KEEP:
            best = c
    return best


def fit_lines(energy: np.ndarray, pitch: float) -> LineFit:
    """Per-line grid positions along one axis, starting from an estimate of the pitch."""
    length = len(energy)
    x = np.arange(length, dtype=np.float64)
    fit = LineFit(pitch, (0.0,), length, 0.0)
    for _ in range(_ITERATIONS):
        cells = max(1.0, min(_SEGMENT_CELLS, length / pitch / 24))
        seg = max(2, round(cells * pitch))
        n_seg = max(1, length // seg)
        used_len = n_seg * seg
        e = energy[:used_len].astype(np.float64).reshape(n_seg, seg)
        xx = x[:used_len].reshape(n_seg, seg)
        z = (e * np.exp(-2j * np.pi * xx / pitch)).sum(axis=1)
        w = np.abs(z)
        if w.max() <= 0:
            return LineFit(pitch, (0.0,), length, 0.0)
        mass = e.sum(axis=1)
        centre = np.where(mass > 0, (e * xx).sum(axis=1) / np.maximum(mass, 1e-12), xx.mean(axis=1))
        use = w >= _MIN_WEIGHT * w.max()
        theta = np.unwrap(-np.angle(z[use])) * pitch / (2 * np.pi)
        t, ww = centre[use] / length, w[use]
        c = _fit_phase(t, theta, ww, pitch)
        fit = LineFit(pitch, tuple(float(v) for v in c), length, float(ww.sum()))
        ends = fit.u(np.array([0.0, float(length)]))
        mean_pitch = length / max(float(ends[1] - ends[0]), 1e-9)
        if abs(mean_pitch - pitch) < _REFIT * pitch:
            return fit  # the phase fit already holds the small pitch correction (and any drift)
        pitch = mean_pitch  # demodulate again around the corrected pitch
    return fit
