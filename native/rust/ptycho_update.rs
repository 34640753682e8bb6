//! The per-position update of the sequential PIE family (ePIE, rPIE), fused: one call runs a whole
//! sweep over a list of scan positions, so the reconstruction crosses from JS once per sweep (or chunk of
//! one) instead of three times per position.
//!
//! Layout and units (what `@studykit/ptycho` keeps):
//! - object: `height × width` complex128, interleaved `(re, im)`, row-major;
//! - probe: `n × n` complex128, interleaved, `n` a power of two (the FFT's sizes);
//! - measured magnitudes: `count × n × n` float32, in FFT order (zero frequency at `(0, 0)`, i.e. the
//!   stored centred amplitudes ifftshifted) and in `|FFT2(ψ)|` units (the amplitudes times `n`), so no shift
//!   or scale is needed per position;
//! - corners: `(top, left)` of each position's `n × n` patch in the object, as `i32` pairs.
//!
//! For position `j` with patch `O_j` and the current probe `P`:
//!   ψ = P·O_j;  Ψ = FFT2(ψ);  Ψ' = M_j·Ψ/|Ψ| (M_j with zero phase where Ψ = 0);  ψ' = IFFT2(Ψ');  Δψ = ψ' − ψ
//!   ePIE: O_j += α·conj(P)·Δψ / max|P|²                  P += β·conj(O_j)·Δψ / max|O_j|²
//!   rPIE: O_j += conj(P)·Δψ / ((1 − α)|P|² + α·max|P|²)   P += conj(O_j)·Δψ / ((1 − β)|O_j|² + β·max|O_j|²)
//! The probe update (when enabled) uses the patch from before the object update of the same position,
//! and the object factor is recomputed after every probe change. The returned error is Σ(|Ψ| − M_j)²
//! over the visited positions (each against the estimates it was updated from).
//!
//! The element-wise passes (exit wave, modulus constraint, object update) have a portable scalar form
//! and, where the CPU has AVX2, a vector form that handles two complex numbers per register. The vector
//! form does the same IEEE operations on the same operands in the same order (no fused multiply-adds;
//! sqrt and division are correctly rounded either way), so both give the same bits; a test checks it.
//! Measured on the 2-core host at n = 32: the scalar passes took ~6 µs per position beside ~4.7 µs for the
//! two transforms (fft's), dominated by the modulus constraint's square root and division. The transforms
//! are `fft`'s own function, called directly.

use crate::fft;

/// The update rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PieRule {
    /// Maiden & Rodenburg 2009: steps α (object) and β (probe) over the maximum intensity.
    Epie,
    /// Maiden, Johnson & Li 2017: α, β ∈ [0, 1] blend the local and the maximum intensity.
    Rpie,
}

/// Rule, weights and whether the probe is updated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PieSettings {
    pub rule: PieRule,
    /// ePIE: object step α; rPIE: object regularisation α.
    pub object_weight: f64,
    /// ePIE: probe step β; rPIE: probe regularisation β.
    pub probe_weight: f64,
    pub update_probe: bool,
}

/// The geometry and measurements of a scan (read-only during a sweep).
#[derive(Clone, Copy, Debug)]
pub struct PieScan<'a> {
    /// Patch and probe side (a power of two the FFT supports).
    pub n: usize,
    pub object_height: usize,
    pub object_width: usize,
    /// `count · n²` magnitudes, FFT order, `|FFT2(ψ)|` units.
    pub measured: &'a [f32],
    /// `count` `(top, left)` pairs.
    pub corners: &'a [i32],
}

/// Why a sweep's arguments are refused: a stable code and a message that says what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepError {
    pub code: &'static str,
    pub message: String,
}

/// Code for arrays whose lengths do not match the stated shapes.
pub const SHAPE_CODE: &str = "E_PIE_SHAPE";
/// Code for a position index outside the scan, or a patch outside the object.
pub const POSITION_CODE: &str = "E_PIE_POSITION";
/// Code for weights outside the rule's range.
pub const WEIGHT_CODE: &str = "E_PIE_WEIGHT";

fn shape_error(message: String) -> SweepError {
    SweepError { code: SHAPE_CODE, message }
}

/// Checks every length, index and weight a sweep relies on (the sweep itself assumes them).
pub fn check_sweep(object_len: usize, probe_len: usize, scan: &PieScan, order: &[u32], settings: &PieSettings) -> Result<(), SweepError> {
    let n = scan.n;
    if !(fft::MIN_SIZE..=fft::MAX_SIZE).contains(&n) || !n.is_power_of_two() {
        return Err(shape_error(format!("probe side n = {n} is not a power of two between {} and {}; pad or crop patterns and probe to 2^k", fft::MIN_SIZE, fft::MAX_SIZE)));
    }
    let pixels = n * n;
    if probe_len != 2 * pixels {
        return Err(shape_error(format!("probe holds {probe_len} values but an {n} × {n} complex probe needs {}", 2 * pixels)));
    }
    let object_pixels = scan.object_height.checked_mul(scan.object_width);
    if object_pixels.and_then(|p| p.checked_mul(2)) != Some(object_len) {
        return Err(shape_error(format!(
            "object holds {object_len} values but a {} × {} complex object needs {}",
            scan.object_height,
            scan.object_width,
            object_pixels.map_or("more than fits in memory".to_string(), |p| (2 * p).to_string())
        )));
    }
    if scan.corners.len() % 2 != 0 {
        return Err(shape_error(format!("corners holds {} values, not (top, left) pairs", scan.corners.len())));
    }
    let count = scan.corners.len() / 2;
    if scan.measured.len() != count * pixels {
        return Err(shape_error(format!("measured holds {} values but {count} positions of {n} × {n} patterns need {}", scan.measured.len(), count * pixels)));
    }
    for &index in order {
        let index = index as usize;
        if index >= count {
            return Err(SweepError { code: POSITION_CODE, message: format!("order names position {index} but the scan has {count} positions") });
        }
        let (top, left) = (scan.corners[2 * index], scan.corners[2 * index + 1]);
        let inside = top >= 0 && left >= 0 && top as usize + n <= scan.object_height && left as usize + n <= scan.object_width;
        if !inside {
            return Err(SweepError {
                code: POSITION_CODE,
                message: format!(
                    "position {index}: its {n} × {n} patch at (top {top}, left {left}) is not inside the {} × {} object",
                    scan.object_height, scan.object_width
                ),
            });
        }
    }
    let range_ok = |weight: f64| match settings.rule {
        PieRule::Epie => weight > 0.0 && weight <= 2.0,
        PieRule::Rpie => (0.0..=1.0).contains(&weight),
    };
    for (name, weight) in [("objectWeight", settings.object_weight), ("probeWeight", settings.probe_weight)] {
        if !range_ok(weight) {
            let (rule, range) = if settings.rule == PieRule::Epie { ("ePIE", "(0, 2]") } else { ("rPIE", "[0, 1]") };
            return Err(SweepError { code: WEIGHT_CODE, message: format!("{name} for {rule} must be in {range}, got {weight}") });
        }
    }
    Ok(())
}

/// Per-pixel factor of the object update, `conj(P)·w` with `w = α / max|P|²` (ePIE) or
/// `1 / ((1 − α)|P|² + α·max|P|²)` (rPIE); all zero for a zero probe.
fn object_factor(probe: &[f64], settings: &PieSettings, factor: &mut [f64]) {
    let mut max_intensity = 0.0f64;
    for value in probe.chunks_exact(2) {
        max_intensity = max_intensity.max(value[0] * value[0] + value[1] * value[1]);
    }
    if max_intensity == 0.0 {
        factor.fill(0.0);
        return;
    }
    let alpha = settings.object_weight;
    for (out, value) in factor.chunks_exact_mut(2).zip(probe.chunks_exact(2)) {
        let (pr, pi) = (value[0], value[1]);
        let weight = match settings.rule {
            PieRule::Epie => alpha / max_intensity,
            PieRule::Rpie => 1.0 / ((1.0 - alpha) * (pr * pr + pi * pi) + alpha * max_intensity),
        };
        out[0] = pr * weight;
        out[1] = -pi * weight;
    }
}

/// The element-wise passes of one position, portable scalar form (the reference for the AVX2 form).
mod passes {
    /// `wave = probe · object row` for one patch row (`row` and `wave`/`probe` rows have equal length).
    #[inline(always)]
    pub fn exit_wave_row(probe: &[f64], object: &[f64], wave: &mut [f64]) {
        for ((w, p), o) in wave.chunks_exact_mut(2).zip(probe.chunks_exact(2)).zip(object.chunks_exact(2)) {
            w[0] = p[0] * o[0] - p[1] * o[1];
            w[1] = p[0] * o[1] + p[1] * o[0];
        }
    }

    /// Replaces |Ψ| by the measured magnitude in place; returns Σ(|Ψ| − M)². Four partial sums, so the
    /// loop vectorises (a single running sum would serialise it).
    #[inline(always)]
    pub fn modulus(wave: &mut [f64], measured: &[f32]) -> f64 {
        let mut sums = [0.0f64; 4];
        let mut waves = wave.chunks_exact_mut(8);
        let mut targets = measured.chunks_exact(4);
        for (w, m) in (&mut waves).zip(&mut targets) {
            for lane in 0..4 {
                sums[lane] += one(&mut w[2 * lane..2 * lane + 2], m[lane]);
            }
        }
        let mut tail = 0.0;
        for (w, &m) in waves.into_remainder().chunks_exact_mut(2).zip(targets.remainder()) {
            tail += one(w, m);
        }
        (sums[0] + sums[1]) + (sums[2] + sums[3]) + tail
    }

    #[inline(always)]
    fn one(w: &mut [f64], target: f32) -> f64 {
        let (re, im) = (w[0], w[1]);
        let target = target as f64;
        let magnitude = (re * re + im * im).sqrt();
        let difference = magnitude - target;
        if magnitude > 0.0 {
            let factor = target / magnitude;
            w[0] = re * factor;
            w[1] = im * factor;
        } else {
            // No phase to keep: the measured magnitude with zero phase.
            w[0] = target;
            w[1] = 0.0;
        }
        difference * difference
    }

    /// Object update of one patch row: `o += factor · (ψ' − p·o)`; with `keep`, Δψ is left in `wave` and
    /// the old object values in `patch` for the probe update.
    #[inline(always)]
    pub fn object_row(probe: &[f64], factor: &[f64], wave: &mut [f64], object: &mut [f64], patch: &mut [f64], keep: bool) {
        let pixels = probe.len() / 2;
        for k in 0..pixels {
            let (pr, pi) = (probe[2 * k], probe[2 * k + 1]);
            let (or, oi) = (object[2 * k], object[2 * k + 1]);
            let dr = wave[2 * k] - (pr * or - pi * oi);
            let di = wave[2 * k + 1] - (pr * oi + pi * or);
            let (fr, fi) = (factor[2 * k], factor[2 * k + 1]);
            object[2 * k] = or + (fr * dr - fi * di);
            object[2 * k + 1] = oi + (fr * di + fi * dr);
            if keep {
                wave[2 * k] = dr;
                wave[2 * k + 1] = di;
                patch[2 * k] = or;
                patch[2 * k + 1] = oi;
            }
        }
    }
}

/// One sweep's scratch: the wave, the kept patch and the object factor.
struct Workspace {
    wave: Vec<f64>,
    patch: Vec<f64>,
    factor: Vec<f64>,
}

/// Runs the positions `order` one after the other, updating `object` (and `probe` when
/// `settings.update_probe`); returns Σ(|Ψ| − M)² over them. The arguments must pass [`check_sweep`]
/// (this panics on out-of-range indices rather than reading outside the arrays).
pub fn pie_sweep(object: &mut [f64], probe: &mut [f64], scan: &PieScan, order: &[u32], settings: &PieSettings) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if fft::Kernel::detect() == fft::Kernel::Avx2Fma {
        // SAFETY: the CPU has AVX2 and FMA (checked at run time just above).
        return unsafe { sweep_avx2(object, probe, scan, order, settings) };
    }
    sweep::<Portable>(object, probe, scan, order, settings)
}

/// [`pie_sweep`] with the portable passes (tests compare it with the AVX2 ones).
pub fn pie_sweep_portable(object: &mut [f64], probe: &mut [f64], scan: &PieScan, order: &[u32], settings: &PieSettings) -> f64 {
    sweep::<Portable>(object, probe, scan, order, settings)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn sweep_avx2(object: &mut [f64], probe: &mut [f64], scan: &PieScan, order: &[u32], settings: &PieSettings) -> f64 {
    sweep::<avx::Avx2>(object, probe, scan, order, settings)
}

/// The three element-wise passes of a position (see [`passes`] for what each computes).
trait Passes {
    /// # Safety
    /// The implementation's CPU features are present; slices as in [`passes::exit_wave_row`].
    unsafe fn exit_wave_row(probe: &[f64], object: &[f64], wave: &mut [f64]);
    /// # Safety
    /// As above; `wave.len() == 2 * measured.len()`.
    unsafe fn modulus(wave: &mut [f64], measured: &[f32]) -> f64;
    /// # Safety
    /// As above; all slices one patch row long.
    unsafe fn object_row(probe: &[f64], factor: &[f64], wave: &mut [f64], object: &mut [f64], patch: &mut [f64], keep: bool);
}

struct Portable;

impl Passes for Portable {
    #[inline(always)]
    unsafe fn exit_wave_row(probe: &[f64], object: &[f64], wave: &mut [f64]) {
        passes::exit_wave_row(probe, object, wave)
    }
    #[inline(always)]
    unsafe fn modulus(wave: &mut [f64], measured: &[f32]) -> f64 {
        passes::modulus(wave, measured)
    }
    #[inline(always)]
    unsafe fn object_row(probe: &[f64], factor: &[f64], wave: &mut [f64], object: &mut [f64], patch: &mut [f64], keep: bool) {
        passes::object_row(probe, factor, wave, object, patch, keep)
    }
}

#[inline(always)]
fn sweep<K: Passes>(object: &mut [f64], probe: &mut [f64], scan: &PieScan, order: &[u32], settings: &PieSettings) -> f64 {
    let n = scan.n;
    let pixels = n * n;
    let row_len = 2 * n;
    let mut work = Workspace { wave: vec![0.0; 2 * pixels], patch: vec![0.0; 2 * pixels], factor: vec![0.0; 2 * pixels] };
    object_factor(probe, settings, &mut work.factor);
    let mut error = 0.0;
    for &index in order {
        let index = index as usize;
        let top = scan.corners[2 * index] as usize;
        let left = scan.corners[2 * index + 1] as usize;
        let object_row_start = |row: usize| 2 * ((top + row) * scan.object_width + left);
        for row in 0..n {
            let o = object_row_start(row);
            let p = row * row_len;
            // SAFETY: `K`'s features were checked by `pie_sweep`; rows are whole patch rows.
            unsafe { K::exit_wave_row(&probe[p..p + row_len], &object[o..o + row_len], &mut work.wave[p..p + row_len]) };
        }
        fft::fft2_batch(&mut work.wave, n, false);
        // SAFETY: as above; the wave holds `pixels` complex values.
        error += unsafe { K::modulus(&mut work.wave, &scan.measured[index * pixels..(index + 1) * pixels]) };
        fft::fft2_batch(&mut work.wave, n, true);
        for row in 0..n {
            let o = object_row_start(row);
            let p = row * row_len;
            // SAFETY: as above.
            unsafe {
                K::object_row(
                    &probe[p..p + row_len],
                    &work.factor[p..p + row_len],
                    &mut work.wave[p..p + row_len],
                    &mut object[o..o + row_len],
                    &mut work.patch[p..p + row_len],
                    settings.update_probe,
                )
            };
        }
        if settings.update_probe && update_probe(probe, &work.patch, &work.wave, settings) {
            object_factor(probe, settings, &mut work.factor);
        }
    }
    error
}

/// `P += conj(O_j)·Δψ·w` from the patch before the object update (`patch`) and Δψ (`delta`); false (and
/// the probe untouched) when the patch is all zero.
#[inline(always)]
fn update_probe(probe: &mut [f64], patch: &[f64], delta: &[f64], settings: &PieSettings) -> bool {
    let mut max_intensity = 0.0f64;
    for value in patch.chunks_exact(2) {
        max_intensity = max_intensity.max(value[0] * value[0] + value[1] * value[1]);
    }
    if max_intensity == 0.0 {
        return false;
    }
    let beta = settings.probe_weight;
    for ((p, o), d) in probe.chunks_exact_mut(2).zip(patch.chunks_exact(2)).zip(delta.chunks_exact(2)) {
        let (or, oi) = (o[0], o[1]);
        let weight = match settings.rule {
            PieRule::Epie => beta / max_intensity,
            PieRule::Rpie => 1.0 / ((1.0 - beta) * (or * or + oi * oi) + beta * max_intensity),
        };
        let (dr, di) = (d[0], d[1]);
        p[0] += weight * (or * dr + oi * di);
        p[1] += weight * (or * di - oi * dr);
    }
    true
}

#[cfg(target_arch = "x86_64")]
mod avx {
    //! The passes two complex numbers per 256-bit register. Every result is formed from the same products,
    //! sums and differences as the scalar form (IEEE addition and multiplication commute exactly), so the
    //! bits agree. Only called from `sweep_avx2` (AVX2 + FMA enabled), into which everything inlines.
    use super::Passes;
    use std::arch::x86_64::*;

    pub struct Avx2;

    /// `a·b` for the two complex numbers of each register: `(ar·br − ai·bi, ai·br + ar·bi)`.
    #[inline(always)]
    unsafe fn complex_mul(a: __m256d, b: __m256d) -> __m256d {
        let b_re = _mm256_movedup_pd(b);
        let b_im = _mm256_permute_pd::<0b1111>(b);
        let a_swapped = _mm256_permute_pd::<0b0101>(a);
        _mm256_addsub_pd(_mm256_mul_pd(a, b_re), _mm256_mul_pd(a_swapped, b_im))
    }

    impl Passes for Avx2 {
        #[inline(always)]
        unsafe fn exit_wave_row(probe: &[f64], object: &[f64], wave: &mut [f64]) {
            let len = wave.len();
            assert!(probe.len() == len && object.len() == len && len % 4 == 0);
            let (p, o, w) = (probe.as_ptr(), object.as_ptr(), wave.as_mut_ptr());
            for k in (0..len).step_by(4) {
                _mm256_storeu_pd(w.add(k), complex_mul(_mm256_loadu_pd(p.add(k)), _mm256_loadu_pd(o.add(k))));
            }
        }

        /// Four complex numbers per step: their |Ψ|² come out of `hadd` as pixels (0, 2, 1, 3), so the
        /// measured values are put in that order, the four error lanes hold pixels ≡ (0, 2, 1, 3) mod 4, and
        /// they are combined as (0 + 1) + (2 + 3), as the scalar form combines its four sums.
        #[inline(always)]
        unsafe fn modulus(wave: &mut [f64], measured: &[f32]) -> f64 {
            let pixels = measured.len();
            assert!(wave.len() == 2 * pixels && pixels % 4 == 0);
            let (w, m) = (wave.as_mut_ptr(), measured.as_ptr());
            let zero = _mm256_setzero_pd();
            let mut sums = zero;
            for pixel in (0..pixels).step_by(4) {
                let low = _mm256_loadu_pd(w.add(2 * pixel));
                let high = _mm256_loadu_pd(w.add(2 * pixel + 4));
                let norms = _mm256_hadd_pd(_mm256_mul_pd(low, low), _mm256_mul_pd(high, high));
                let magnitude = _mm256_sqrt_pd(norms);
                let target = _mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_cvtps_pd(_mm_loadu_ps(m.add(pixel))));
                let difference = _mm256_sub_pd(magnitude, target);
                sums = _mm256_add_pd(sums, _mm256_mul_pd(difference, difference));
                let factor = _mm256_div_pd(target, magnitude);
                let keeps_phase = _mm256_cmp_pd::<_CMP_GT_OQ>(magnitude, zero);
                // Spread each pixel's factor, target and mask over its (re, im) pair.
                let factor_low = _mm256_permute4x64_pd::<0b10_10_00_00>(factor);
                let factor_high = _mm256_permute4x64_pd::<0b11_11_01_01>(factor);
                let mask_low = _mm256_permute4x64_pd::<0b10_10_00_00>(keeps_phase);
                let mask_high = _mm256_permute4x64_pd::<0b11_11_01_01>(keeps_phase);
                // Where Ψ = 0: (target, 0).
                let real_only_low = _mm256_blend_pd::<0b1010>(_mm256_permute4x64_pd::<0b10_10_00_00>(target), zero);
                let real_only_high = _mm256_blend_pd::<0b1010>(_mm256_permute4x64_pd::<0b11_11_01_01>(target), zero);
                _mm256_storeu_pd(w.add(2 * pixel), _mm256_blendv_pd(real_only_low, _mm256_mul_pd(low, factor_low), mask_low));
                _mm256_storeu_pd(w.add(2 * pixel + 4), _mm256_blendv_pd(real_only_high, _mm256_mul_pd(high, factor_high), mask_high));
            }
            let mut lanes = [0.0f64; 4];
            _mm256_storeu_pd(lanes.as_mut_ptr(), sums);
            (lanes[0] + lanes[2]) + (lanes[1] + lanes[3])
        }

        #[inline(always)]
        unsafe fn object_row(probe: &[f64], factor: &[f64], wave: &mut [f64], object: &mut [f64], patch: &mut [f64], keep: bool) {
            let len = wave.len();
            assert!(probe.len() == len && factor.len() == len && object.len() == len && patch.len() == len && len % 4 == 0);
            let (p, f, w, o, kept) = (probe.as_ptr(), factor.as_ptr(), wave.as_mut_ptr(), object.as_mut_ptr(), patch.as_mut_ptr());
            for k in (0..len).step_by(4) {
                let old = _mm256_loadu_pd(o.add(k));
                let delta = _mm256_sub_pd(_mm256_loadu_pd(w.add(k)), complex_mul(_mm256_loadu_pd(p.add(k)), old));
                _mm256_storeu_pd(o.add(k), _mm256_add_pd(old, complex_mul(_mm256_loadu_pd(f.add(k)), delta)));
                if keep {
                    _mm256_storeu_pd(w.add(k), delta);
                    _mm256_storeu_pd(kept.add(k), old);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Against a naive implementation written from the formulas: complex numbers as pairs, a direct
    //! O(n⁴) DFT, no precomputed factor, a fresh ψ per position.
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    struct C(f64, f64);
    impl C {
        fn mul(self, o: C) -> C {
            C(self.0 * o.0 - self.1 * o.1, self.0 * o.1 + self.1 * o.0)
        }
        fn conj(self) -> C {
            C(self.0, -self.1)
        }
        fn add(self, o: C) -> C {
            C(self.0 + o.0, self.1 + o.1)
        }
        fn sub(self, o: C) -> C {
            C(self.0 - o.0, self.1 - o.1)
        }
        fn scale(self, s: f64) -> C {
            C(self.0 * s, self.1 * s)
        }
        fn norm2(self) -> f64 {
            self.0 * self.0 + self.1 * self.1
        }
    }

    fn dft(x: &[C], n: usize, inverse: bool) -> Vec<C> {
        let sign = if inverse { 1.0 } else { -1.0 };
        let mut out = vec![C(0.0, 0.0); n * n];
        for k in 0..n {
            for l in 0..n {
                let mut sum = C(0.0, 0.0);
                for r in 0..n {
                    for c in 0..n {
                        let angle = sign * 2.0 * std::f64::consts::PI * (((k * r + l * c) % n) as f64) / n as f64;
                        sum = sum.add(x[r * n + c].mul(C(angle.cos(), angle.sin())));
                    }
                }
                out[k * n + l] = if inverse { sum.scale(1.0 / (n * n) as f64) } else { sum };
            }
        }
        out
    }

    fn to_c(values: &[f64]) -> Vec<C> {
        values.chunks_exact(2).map(|v| C(v[0], v[1])).collect()
    }

    /// The sweep, naively.
    fn naive_sweep(object: &mut [C], width: usize, probe: &mut Vec<C>, scan: &PieScan, order: &[u32], s: &PieSettings) -> f64 {
        let n = scan.n;
        let mut error = 0.0;
        for &j in order {
            let j = j as usize;
            let (top, left) = (scan.corners[2 * j] as usize, scan.corners[2 * j + 1] as usize);
            let at = |r: usize, c: usize| (top + r) * width + left + c;
            let patch: Vec<C> = (0..n * n).map(|k| object[at(k / n, k % n)]).collect();
            let psi: Vec<C> = (0..n * n).map(|k| probe[k].mul(patch[k])).collect();
            let mut big = dft(&psi, n, false);
            for (k, value) in big.iter_mut().enumerate() {
                let m = scan.measured[j * n * n + k] as f64;
                let magnitude = value.norm2().sqrt();
                error += (magnitude - m) * (magnitude - m);
                *value = if magnitude > 0.0 { value.scale(m / magnitude) } else { C(m, 0.0) };
            }
            let corrected = dft(&big, n, true);
            let delta: Vec<C> = (0..n * n).map(|k| corrected[k].sub(psi[k])).collect();
            let p_max = probe.iter().map(|p| p.norm2()).fold(0.0, f64::max);
            let o_max = patch.iter().map(|o| o.norm2()).fold(0.0, f64::max);
            for k in 0..n * n {
                let weight = match s.rule {
                    PieRule::Epie => s.object_weight / p_max,
                    PieRule::Rpie => 1.0 / ((1.0 - s.object_weight) * probe[k].norm2() + s.object_weight * p_max),
                };
                object[at(k / n, k % n)] = patch[k].add(probe[k].conj().mul(delta[k]).scale(weight));
            }
            if s.update_probe {
                for k in 0..n * n {
                    let weight = match s.rule {
                        PieRule::Epie => s.probe_weight / o_max,
                        PieRule::Rpie => 1.0 / ((1.0 - s.probe_weight) * patch[k].norm2() + s.probe_weight * o_max),
                    };
                    probe[k] = probe[k].add(patch[k].conj().mul(delta[k]).scale(weight));
                }
            }
        }
        error
    }

    /// xorshift64* in [0, 1).
    struct Random(u64);
    impl Random {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
        }
        fn below(&mut self, bound: usize) -> usize {
            ((self.next() * bound as f64) as usize).min(bound - 1)
        }
    }

    struct Case {
        height: usize,
        width: usize,
        object: Vec<f64>,
        probe: Vec<f64>,
        measured: Vec<f32>,
        corners: Vec<i32>,
        order: Vec<u32>,
    }

    fn case(seed: u64, n: usize, count: usize) -> Case {
        let mut random = Random(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let (height, width) = (n + 1 + random.below(n), n + 2 + random.below(n));
        let object: Vec<f64> = (0..height * width)
            .flat_map(|_| {
                let (amplitude, phase) = (0.5 + 0.5 * random.next(), 2.0 * random.next() - 1.0);
                [amplitude * phase.cos(), amplitude * phase.sin()]
            })
            .collect();
        // A random phase on a smooth envelope: no far-field pixel is (nearly) zero, where two correct
        // transforms could disagree on the phase by more than rounding.
        let probe: Vec<f64> = (0..n * n)
            .flat_map(|k| {
                let (r, c) = ((k / n) as f64 - n as f64 / 2.0, (k % n) as f64 - n as f64 / 2.0);
                let envelope = (-(r * r + c * c) / (n * n) as f64).exp();
                let phase = 6.0 * random.next();
                [envelope * phase.cos(), envelope * phase.sin()]
            })
            .collect();
        let measured = (0..count * n * n).map(|_| (n as f64 * (0.2 + random.next())) as f32).collect();
        let corners = (0..count).flat_map(|_| [random.below(height - n + 1) as i32, random.below(width - n + 1) as i32]).collect();
        let order = (0..2 * count).map(|_| random.below(count) as u32).collect();
        Case { height, width, object, probe, measured, corners, order }
    }

    fn largest_difference(a: &[f64], b: &[C]) -> f64 {
        to_c(a).iter().zip(b).map(|(x, y)| (x.0 - y.0).abs().max((x.1 - y.1).abs())).fold(0.0, f64::max)
    }

    #[test]
    fn sweeps_follow_the_published_rules() {
        let mut seed = 1;
        for n in [2usize, 4, 8, 16] {
            for (rule, alpha, beta) in [(PieRule::Epie, 1.0, 1.0), (PieRule::Epie, 0.7, 1.6), (PieRule::Rpie, 0.1, 1.0), (PieRule::Rpie, 0.0, 0.35)] {
                for update_probe in [false, true] {
                    seed += 1;
                    let c = case(seed, n, 5);
                    let settings = PieSettings { rule, object_weight: alpha, probe_weight: beta, update_probe };
                    let scan = PieScan { n, object_height: c.height, object_width: c.width, measured: &c.measured, corners: &c.corners };
                    check_sweep(c.object.len(), c.probe.len(), &scan, &c.order, &settings).unwrap();
                    let (mut object, mut probe) = (c.object.clone(), c.probe.clone());
                    let error = pie_sweep(&mut object, &mut probe, &scan, &c.order, &settings);
                    let (mut naive_object, mut naive_probe) = (to_c(&c.object), to_c(&c.probe));
                    let naive_error = naive_sweep(&mut naive_object, c.width, &mut naive_probe, &scan, &c.order, &settings);
                    let label = format!("n {n}, {rule:?} α {alpha} β {beta}, probe update {update_probe}");
                    assert!((error / naive_error - 1.0).abs() < 1e-10, "{label}: error {error} vs {naive_error}");
                    assert!(largest_difference(&object, &naive_object) < 1e-9, "{label}: object differs by {}", largest_difference(&object, &naive_object));
                    assert!(largest_difference(&probe, &naive_probe) < 1e-9, "{label}: probe differs");
                    // The sweep did something, and the probe moved exactly when asked to.
                    assert!(largest_difference(&object, &to_c(&c.object)) > 1e-3, "{label}: object unchanged");
                    assert_eq!(probe != c.probe, update_probe, "{label}");
                }
            }
        }
    }

    #[test]
    fn portable_and_vector_builds_agree_bit_for_bit() {
        let sizes = [2usize, 4, 8, 16, 32, 64];
        for seed in 40u64..88 {
            let n = sizes[seed as usize % sizes.len()];
            let c = case(seed, n, 6);
            let rule = if seed % 2 == 0 { PieRule::Rpie } else { PieRule::Epie };
            let settings = PieSettings { rule, object_weight: 0.3, probe_weight: 0.8, update_probe: seed % 3 != 0 };
            let scan = PieScan { n, object_height: c.height, object_width: c.width, measured: &c.measured, corners: &c.corners };
            let (mut a_object, mut a_probe) = (c.object.clone(), c.probe.clone());
            let (mut b_object, mut b_probe) = (c.object.clone(), c.probe.clone());
            let a = pie_sweep(&mut a_object, &mut a_probe, &scan, &c.order, &settings);
            let b = pie_sweep_portable(&mut b_object, &mut b_probe, &scan, &c.order, &settings);
            // The FFT picks its own kernel in both, so only the element-wise passes differ in build.
            assert_eq!(a.to_bits(), b.to_bits());
            assert_eq!(a_object, b_object);
            assert_eq!(a_probe, b_probe);
        }
    }

    #[test]
    fn zero_far_field_takes_the_measured_magnitude() {
        // A zero probe gives Ψ = 0 everywhere: Ψ' = M with zero phase, and a zero factor leaves O alone.
        let n = 4;
        let measured = vec![2.0f32; n * n];
        let corners = [0, 0];
        let scan = PieScan { n, object_height: n, object_width: n, measured: &measured, corners: &corners };
        let mut object = vec![1.0; 2 * n * n];
        let mut probe = vec![0.0; 2 * n * n];
        let settings = PieSettings { rule: PieRule::Epie, object_weight: 1.0, probe_weight: 1.0, update_probe: true };
        let error = pie_sweep(&mut object, &mut probe, &scan, &[0], &settings);
        assert_eq!(error, 4.0 * (n * n) as f64);
        assert!(object.iter().all(|&v| v == 1.0));
        // The probe moved towards conj(O)·Δψ/max|O|² = IFFT2(2) = 2 at (0, 0) only (O = 1 + 1i, |O|² = 2).
        assert!((probe[0] - 1.0).abs() < 1e-12 && (probe[1] + 1.0).abs() < 1e-12, "{:?}", &probe[..2]);
        assert!(probe[2..].iter().all(|v| v.abs() < 1e-12));
    }

    #[test]
    fn refuses_bad_arguments_with_codes() {
        let c = case(7, 4, 3);
        let settings = PieSettings { rule: PieRule::Epie, object_weight: 1.0, probe_weight: 1.0, update_probe: false };
        let scan = PieScan { n: 4, object_height: c.height, object_width: c.width, measured: &c.measured, corners: &c.corners };
        let check = |object_len, probe_len, scan: &PieScan, order: &[u32], settings: &PieSettings| check_sweep(object_len, probe_len, scan, order, settings).map_err(|e| e.code);
        assert_eq!(check(c.object.len(), c.probe.len(), &scan, &[0, 1, 2], &settings), Ok(()));
        assert_eq!(check(c.object.len() - 2, c.probe.len(), &scan, &[0], &settings), Err(SHAPE_CODE));
        assert_eq!(check(c.object.len(), c.probe.len() + 2, &scan, &[0], &settings), Err(SHAPE_CODE));
        assert_eq!(check(c.object.len(), c.probe.len(), &PieScan { n: 3, ..scan }, &[0], &settings), Err(SHAPE_CODE));
        assert_eq!(check(c.object.len(), c.probe.len(), &PieScan { measured: &c.measured[1..], ..scan }, &[0], &settings), Err(SHAPE_CODE));
        assert_eq!(check(c.object.len(), c.probe.len(), &scan, &[3], &settings), Err(POSITION_CODE));
        let outside = [0, (c.width - 3) as i32];
        assert_eq!(check(c.object.len(), c.probe.len(), &PieScan { corners: &outside, measured: &c.measured[..16], ..scan }, &[0], &settings), Err(POSITION_CODE));
        let negative = [-1, 0];
        assert_eq!(check(c.object.len(), c.probe.len(), &PieScan { corners: &negative, measured: &c.measured[..16], ..scan }, &[0], &settings), Err(POSITION_CODE));
        let too_big = PieSettings { object_weight: 2.5, ..settings };
        assert_eq!(check(c.object.len(), c.probe.len(), &scan, &[0], &too_big), Err(WEIGHT_CODE));
        let rpie = PieSettings { rule: PieRule::Rpie, probe_weight: 1.5, ..settings };
        assert_eq!(check(c.object.len(), c.probe.len(), &scan, &[0], &rpie), Err(WEIGHT_CODE));
    }
}
