//! Which vector kernels this CPU runs, for the kernels that have an AVX2 + FMA path and a portable one
//! (single-precision GEMM, the FFT and, through the FFT, the ptychographic sweep).

/// Which kernels run: AVX2 + FMA vectors, or portable scalar code.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kernel {
    Avx2Fma,
    Portable,
}

impl Kernel {
    /// The best kernel this CPU runs (the std macro caches the CPUID answer).
    pub fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                return Kernel::Avx2Fma;
            }
        }
        Kernel::Portable
    }
}
