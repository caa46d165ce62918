/* Tables of the ziggurat method for standard normal draws (Marsaglia and
 * Tsang, "The ziggurat method for generating random variables", 2000).
 *
 * The right half of the normal density exp(-x^2 / 2) is covered by 128
 * layers of equal area V: layer 0 is the rectangle [0, R] x [0, f(R)] with
 * the tail beyond R, layer i > 0 the rectangle [0, x[i]] x [f(x[i]),
 * f(x[i+1])].  R and V are the solution for 128 layers (the top layer ends
 * at x = 0); the edges follow from them.  Each module that draws normals
 * fills its copy of the tables once, at import, with nnf_ziggurat_init().
 */
#ifndef NNF_ZIGGURAT_H
#define NNF_ZIGGURAT_H

#include <math.h>

#define NNF_ZIG_LAYERS 128
#define NNF_ZIG_R 3.4426198558966523
#define NNF_ZIG_V 0.009912563035336455

/* x[i]: the right edge of layer i (x[0] = V / f(R), the width of a base
 * rectangle of area V; x[128] = 0); f[i] = exp(-x[i]^2 / 2). */
static double nnf_zig_x[NNF_ZIG_LAYERS + 1];
static double nnf_zig_f[NNF_ZIG_LAYERS + 1];

static void nnf_ziggurat_init(void)
{
    int i;
    nnf_zig_x[0] = NNF_ZIG_V / exp(-0.5 * NNF_ZIG_R * NNF_ZIG_R);
    nnf_zig_x[1] = NNF_ZIG_R;
    for (i = 1; i < NNF_ZIG_LAYERS - 1; i++)
        nnf_zig_x[i + 1] = sqrt(-2.0 * log(NNF_ZIG_V / nnf_zig_x[i]
                                           + exp(-0.5 * nnf_zig_x[i] * nnf_zig_x[i])));
    nnf_zig_x[NNF_ZIG_LAYERS] = 0.0;
    for (i = 0; i <= NNF_ZIG_LAYERS; i++)
        nnf_zig_f[i] = exp(-0.5 * nnf_zig_x[i] * nnf_zig_x[i]);
}

#endif
