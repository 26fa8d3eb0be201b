// mcuforge's own ap_int/ap_uint subset: integers of W bits that wrap on overflow, built on
// ap_fixed with no fractional bits (so mixed arithmetic with ap_fixed stays exact).
#ifndef MCUFORGE_AP_INT_H
#define MCUFORGE_AP_INT_H

#include "ap_fixed.h"

template <int W>
using ap_int = ap_fixed<W, W, AP_TRN, AP_WRAP>;

// Unsigned values of W bits held in W + 1 signed bits (wraps to the unsigned range).
template <int W>
struct ap_uint : ap_fixed<W + 1, W + 1, AP_TRN, AP_WRAP> {
    typedef ap_fixed<W + 1, W + 1, AP_TRN, AP_WRAP> base;
    ap_uint() {}
    template <class T>
    ap_uint(const T &v) : base(v) { this->raw_ &= (((ap_detail::wide_t)1) << W) - 1; }
};

#endif
