// mcuforge's own implementation of the subset of Xilinx ap_fixed semantics the generated HLS
// projects use, so that a project C-simulates with plain g++ (Vitis not needed):
//   ap_fixed<W, I, Q, O> with W <= 64 for declared types (products and sums of them go up to 128),
//   quantization AP_TRN (floor), AP_RND (add half an LSB, then floor: ties toward +inf) and
//   AP_RND_CONV (ties to even),
//   overflow AP_WRAP (keep the low W bits) and AP_SAT (clamp to the W-bit range),
//   exact full-precision + - * between ap_fixed values, comparisons, conversion to/from double.
// The value is raw * 2^-(W-I); raw is kept sign-extended in a 128-bit integer.
// Vendor headers (Vitis, or those bundled with hls4ml) may be put first on the include path
// instead; the tests check that both give the same outputs.
#ifndef MCUFORGE_AP_FIXED_H
#define MCUFORGE_AP_FIXED_H

#include <cmath>
#include <cstdint>

enum ap_q_mode { AP_RND, AP_RND_ZERO, AP_RND_MIN_INF, AP_RND_INF, AP_RND_CONV, AP_TRN, AP_TRN_ZERO };
enum ap_o_mode { AP_SAT, AP_SAT_ZERO, AP_SAT_SYM, AP_WRAP, AP_WRAP_SM };

namespace ap_detail {
typedef __int128 wide_t;

// Move the binary point from from_f to to_f fractional bits; dropped bits follow the mode.
inline wide_t shift_round(wide_t raw, int from_f, int to_f, bool round_half_up, bool half_even = false) {
    int sh = from_f - to_f;
    if (sh <= 0) return raw * ((wide_t)1 << -sh);  // widening: exact
    if (sh >= 127) return (raw < 0) ? -1 : 0;
    if (round_half_up) raw += (wide_t)1 << (sh - 1);
    else if (half_even) raw += (((wide_t)1 << (sh - 1)) - 1) + ((raw >> sh) & 1);
    return raw >> sh;  // arithmetic shift: floor
}

// Bring raw into W signed bits: clamp (saturate) or keep the low W bits (wrap).
template <int W>
inline wide_t fit(wide_t raw, bool saturate) {
    const wide_t max = ((wide_t)1 << (W - 1)) - 1;
    const wide_t min = -max - 1;
    if (saturate) return raw > max ? max : (raw < min ? min : raw);
    if (W >= 128) return raw;
    const unsigned __int128 mask = (((unsigned __int128)1) << W) - 1;
    unsigned __int128 low = ((unsigned __int128)raw) & mask;
    return low > (unsigned __int128)max ? (wide_t)low - ((wide_t)1 << W) : (wide_t)low;
}
}  // namespace ap_detail

template <int W, int I, ap_q_mode Q = AP_TRN, ap_o_mode O = AP_WRAP, int N = 0>
struct ap_fixed {
    static_assert(W >= 1 && W <= 128, "ap_fixed: width outside 1..128");
    static_assert(Q == AP_TRN || Q == AP_RND || Q == AP_RND_CONV,
                  "ap_fixed: only AP_TRN, AP_RND and AP_RND_CONV are implemented");
    static_assert(O == AP_WRAP || O == AP_SAT, "ap_fixed: only AP_WRAP and AP_SAT are implemented");
    static const int width = W;
    static const int iwidth = I;
    static const int frac = W - I;
    ap_detail::wide_t raw_;

    ap_fixed() : raw_(0) {}

    // Every conversion into this type goes through here: rounding first, then overflow.
    void assign_raw(ap_detail::wide_t raw, int from_frac) {
        raw_ = ap_detail::fit<W>(ap_detail::shift_round(raw, from_frac, frac, Q == AP_RND, Q == AP_RND_CONV), O == AP_SAT);
    }

    template <int W2, int I2, ap_q_mode Q2, ap_o_mode O2, int N2>
    ap_fixed(const ap_fixed<W2, I2, Q2, O2, N2> &o) { assign_raw(o.raw_, W2 - I2); }

    ap_fixed(int v) { assign_raw(v, 0); }
    ap_fixed(long v) { assign_raw(v, 0); }
    ap_fixed(long long v) { assign_raw(v, 0); }
    ap_fixed(unsigned v) { assign_raw(v, 0); }
    ap_fixed(unsigned long v) { assign_raw(v, 0); }
    ap_fixed(unsigned long long v) { assign_raw((ap_detail::wide_t)v, 0); }
    ap_fixed(float v) { from_double(v); }
    ap_fixed(double v) { from_double(v); }

    void from_double(double v) {
        double scaled = std::ldexp(v, frac);  // exact
        double q = (Q == AP_RND) ? std::floor(scaled + 0.5)
                 : (Q == AP_RND_CONV) ? std::nearbyint(scaled) : std::floor(scaled);  // default: ties to even
        const double lim = std::ldexp(1.0, 126);
        q = q > lim ? lim : (q < -lim ? -lim : q);
        raw_ = ap_detail::fit<W>((ap_detail::wide_t)q, O == AP_SAT);
    }

    double to_double() const { return std::ldexp((double)raw_, -frac); }
    float to_float() const { return (float)to_double(); }
    long long to_int64() const { return (long long)ap_detail::shift_round(raw_, frac, 0, false); }
    int to_int() const { return (int)to_int64(); }

    template <int W2, int I2, ap_q_mode Q2, ap_o_mode O2, int N2>
    ap_fixed &operator+=(const ap_fixed<W2, I2, Q2, O2, N2> &o) { return *this = *this + o; }
    template <int W2, int I2, ap_q_mode Q2, ap_o_mode O2, int N2>
    ap_fixed &operator-=(const ap_fixed<W2, I2, Q2, O2, N2> &o) { return *this = *this - o; }
    template <int W2, int I2, ap_q_mode Q2, ap_o_mode O2, int N2>
    ap_fixed &operator*=(const ap_fixed<W2, I2, Q2, O2, N2> &o) { return *this = *this * o; }

    // Shifts keep the type: the W-bit pattern moves (bits leaving the top are lost, as in AP_WRAP;
    // right shifts are arithmetic, i.e. floor); a negative amount shifts the other way.
    ap_fixed operator<<(int sh) const {
        if (sh < 0) return *this >> -sh;
        ap_fixed r;
        r.raw_ = ap_detail::fit<W>(sh >= W ? 0 : raw_ * ((ap_detail::wide_t)1 << sh), false);
        return r;
    }
    ap_fixed operator>>(int sh) const {
        if (sh < 0) return *this << -sh;
        ap_fixed r;
        r.raw_ = sh >= 127 ? (raw_ < 0 ? -1 : 0) : raw_ >> sh;
        return r;
    }
};

namespace ap_detail {
constexpr int max_int(int a, int b) { return a > b ? a : b; }
// Exact result type of a sum: the finer binary point, one more integer bit.
template <int W1, int I1, int W2, int I2>
struct sum_type {
    static const int F = max_int(W1 - I1, W2 - I2);
    static const int I = max_int(I1, I2) + 1;
    typedef ap_fixed<I + F, I> type;
};
template <class A, class B>
inline int compare(const A &a, const B &b) {
    const int f = max_int(A::frac, B::frac);
    wide_t x = shift_round(a.raw_, A::frac, f, false), y = shift_round(b.raw_, B::frac, f, false);
    return x < y ? -1 : (x > y ? 1 : 0);
}
}  // namespace ap_detail

#define AP_FIXED_ARGS(n) int W##n, int I##n, ap_q_mode Q##n, ap_o_mode O##n, int N##n
#define AP_FIXED_T(n) ap_fixed<W##n, I##n, Q##n, O##n, N##n>

template <AP_FIXED_ARGS(1), AP_FIXED_ARGS(2)>
inline typename ap_detail::sum_type<W1, I1, W2, I2>::type operator+(const AP_FIXED_T(1) &a, const AP_FIXED_T(2) &b) {
    typedef typename ap_detail::sum_type<W1, I1, W2, I2>::type R;
    R r;
    r.raw_ = ap_detail::shift_round(a.raw_, W1 - I1, R::frac, false) + ap_detail::shift_round(b.raw_, W2 - I2, R::frac, false);
    return r;
}

template <AP_FIXED_ARGS(1), AP_FIXED_ARGS(2)>
inline typename ap_detail::sum_type<W1, I1, W2, I2>::type operator-(const AP_FIXED_T(1) &a, const AP_FIXED_T(2) &b) {
    typedef typename ap_detail::sum_type<W1, I1, W2, I2>::type R;
    R r;
    r.raw_ = ap_detail::shift_round(a.raw_, W1 - I1, R::frac, false) - ap_detail::shift_round(b.raw_, W2 - I2, R::frac, false);
    return r;
}

template <AP_FIXED_ARGS(1), AP_FIXED_ARGS(2)>
inline ap_fixed<W1 + W2, I1 + I2> operator*(const AP_FIXED_T(1) &a, const AP_FIXED_T(2) &b) {
    ap_fixed<W1 + W2, I1 + I2> r;
    r.raw_ = a.raw_ * b.raw_;  // exact: |raw| < 2^(W1+W2-1) <= 2^127
    return r;
}

template <AP_FIXED_ARGS(1)>
inline ap_fixed<W1 + 1, I1 + 1> operator-(const AP_FIXED_T(1) &a) {
    ap_fixed<W1 + 1, I1 + 1> r;
    r.raw_ = -a.raw_;
    return r;
}

#define AP_FIXED_COMPARE(op)                                                            \
    template <AP_FIXED_ARGS(1), AP_FIXED_ARGS(2)>                                       \
    inline bool operator op(const AP_FIXED_T(1) &a, const AP_FIXED_T(2) &b) {          \
        return ap_detail::compare(a, b) op 0;                                           \
    }
AP_FIXED_COMPARE(<)
AP_FIXED_COMPARE(>)
AP_FIXED_COMPARE(<=)
AP_FIXED_COMPARE(>=)
AP_FIXED_COMPARE(==)
AP_FIXED_COMPARE(!=)
#undef AP_FIXED_COMPARE

#endif
