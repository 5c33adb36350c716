/* lenetc int8 helper for the float-requantization option only (--requant float): pasted into
 * the generated C only when a kernel calls it, so integer-only models stay free of float. */
/* lenetc_requant_f (the float-requantization option, for FPU targets): ONNX Runtime's CPU rule,
 * zp + nearbyint((float)acc * scale) with ties to even, saturated to [lo, hi]. The product is
 * clamped to [-256, 256] first (the final clamp to int8 makes that invisible, and it keeps the
 * conversion to int32 defined); the rounding is done without libm: t = trunc(y), and y - t is
 * exact because |y| <= 256 leaves its fraction bits inside one float. */
#ifdef LENETC_USE_REQUANT_F
LENETC_MAYBE_UNUSED static inline int8_t lenetc_requant_f(int32_t acc, float scale, int32_t zp, int32_t lo, int32_t hi)
{
    float y = (float)acc * scale;
    float frac;
    int32_t t;
    y = y < -256.0f ? -256.0f : (y > 256.0f ? 256.0f : y);
    t = (int32_t)y;
    frac = y - (float)t;
    if (frac > 0.5f || (frac == 0.5f && (t & 1) != 0)) {
        ++t;
    } else if (frac < -0.5f || (frac == -0.5f && (t & 1) != 0)) {
        --t;
    }
    t += zp;
    t = t < lo ? lo : t;
    t = t > hi ? hi : t;
    return (int8_t)t;
}
#endif
