package dev.tessera.engine.attention;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * The many-row path (prefill chunks, packed spans): the item's queries are transposed once ({@code qT[dim][row]}),
 * so a tile's scores {@code S^T[key][row]} are register-blocked broadcast FMAs over vectors of rows with no
 * horizontal reduction; the online softmax runs lane-wise (each lane a row with its own running max, sum and visible
 * limit; keys past a row's limit get probability exactly 0), and P·V broadcasts each probability over a packed copy
 * of the tile's V. Rows past the last real row are zero queries that never see a key.
 *
 * <p>Register blocks: scores take 2 vectors of rows by 4 keys, P·V 4 rows by 2 vectors of the head dim, 8
 * accumulators and 3 operands, which fit the 16 vector registers of AVX2. The former 4 by 4 blocks (16 accumulators)
 * spilled there and, on any vector width, made compilations large enough for C2 to stop inlining inside them, which
 * left vector operations boxed (megabytes allocated per call). Every score and output element is still summed in
 * the same order, so the blocking changes speed, never results.
 */
final class ManyRowTiles extends AttentionTiles {
    ManyRowTiles(int numHeads, int group, int headDim, int tileTokens) {
        super(numHeads, group, headDim, tileTokens);
    }

    @Override
    void attend(AttentionScratch sc, float[] q, float[] out, float[] kArr, float[] vArr, int firstRow, int tokens,
            int kvHead, int nKeys, TileKeys keys) {
        final float[] qt = sc.qT;
        final int rs = sc.rowStride;
        final int d = headDim;
        final int g = group;
        final int rows = tokens * g;
        final int rowVecs = (rows + LANES - 1) / LANES;
        final int padded = rowVecs * LANES;
        final int rowFloats = numHeads * d;
        final float sc0 = scale;
        for (int t = 0; t < tokens; t++) {
            for (int h = 0; h < g; h++) {
                int src = (firstRow + t) * rowFloats + (kvHead * g + h) * d;
                int r = t * g + h;
                for (int i = 0; i < d; i++) qt[i * rs + r] = q[src + i] * sc0;
            }
        }
        if (padded > rows) {
            for (int i = 0; i < d; i++) Arrays.fill(qt, i * rs + rows, i * rs + padded, 0f);
        }
        Arrays.fill(sc.m, 0, padded, -Float.MAX_VALUE); // finite: no inf - inf for rows that see nothing yet
        Arrays.fill(sc.l, 0, padded, 0f);
        Arrays.fill(sc.acc, 0, rows * d, 0f);
        final int[] visible = sc.visible;
        final float[] visibleF = sc.visibleF;
        Arrays.fill(visible, rows, padded, 0); // padding rows never see a key
        Arrays.fill(visibleF, rows, padded, 0f);

        for (int t0 = 0; t0 < nKeys; t0 += tileTokens) {
            final int n = Math.min(tileTokens, nKeys - t0);
            keys.tile(sc, t0, n, tokens, g);
            final int nv = visible[rows - 1]; // the last token sees the most keys
            if (nv == 0) continue;
            for (int r = 0; r < rows; r++) visibleF[r] = visible[r];
            scoresWide(sc, kArr, rowVecs, nv);
            softmaxWide(sc, rows, rowVecs, nv);
            if (vArr != sc.vTile) { // a paged cache's tile is already there, packed (copied, widened or dequantized)
                copyTile(vArr, sc.keyOffsets, nv, sc.vTile); // packed: the P·V loop then reads V at linear offsets
            }
            accumulateWide(sc, sc.vTile, rows);
        }
        finish(sc, out, firstRow, tokens, kvHead);
    }

    /**
     * {@code S^T[j][row] = qT[.][row] · K[j]} for keys {@code 0..nv-1} of the tile and all row vectors; also the
     * per-row maximum over those keys into {@code tileMax}. Register-blocked kernels, one small method each, so the
     * JIT compiles each hot loop on its own.
     */
    private void scoresWide(AttentionScratch sc, float[] keys, int rowVecs, int nv) {
        final int d = headDim;
        final int rs = sc.rowStride;
        final float[] qt = sc.qT;
        final float[] st = sc.scoresT;
        final int[] keyOff = sc.keyOffsets;
        final float[] tmax = sc.tileMax;
        Arrays.fill(tmax, 0, rowVecs * LANES, Float.NEGATIVE_INFINITY);
        int j = 0;
        for (; j + 4 <= nv; j += 4) {
            final int k0 = keyOff[j], k1 = keyOff[j + 1], k2 = keyOff[j + 2], k3 = keyOff[j + 3];
            final int o = j * rs;
            int v = 0;
            for (; v + 2 <= rowVecs; v += 2) scores2x4(qt, rs, v * LANES, keys, k0, k1, k2, k3, d, st, o, tmax);
            for (; v < rowVecs; v++) scores1x4(qt, rs, v * LANES, keys, k0, k1, k2, k3, d, st, o, tmax);
        }
        for (; j < nv; j++) {
            final int k0 = keyOff[j];
            final int o = j * rs;
            for (int v = 0; v < rowVecs; v++) scores1x1(qt, rs, v * LANES, keys, k0, d, st, o, tmax);
        }
    }

    /** Scores of keys at {@code k0..} (4) for 2 row vector(s) from lane {@code c}, into row {@code o} of S^T. */
    private static void scores2x4(float[] qt, int rs, int c, float[] keys, int k0, int k1, int k2, int k3,
            int d, float[] st, int o, float[] tmax) {
        FloatVector zero = FloatVector.zero(SPECIES);
        FloatVector a00 = zero, a01 = zero;
        FloatVector a10 = zero, a11 = zero;
        FloatVector a20 = zero, a21 = zero;
        FloatVector a30 = zero, a31 = zero;
        for (int i = 0; i < d; i++) {
            int qo = i * rs + c;
            FloatVector x0 = FloatVector.fromArray(SPECIES, qt, qo);
            FloatVector x1 = FloatVector.fromArray(SPECIES, qt, qo + LANES);
            FloatVector b = FloatVector.broadcast(SPECIES, keys[k0 + i]);
            a00 = x0.fma(b, a00);
            a01 = x1.fma(b, a01);
            b = FloatVector.broadcast(SPECIES, keys[k1 + i]);
            a10 = x0.fma(b, a10);
            a11 = x1.fma(b, a11);
            b = FloatVector.broadcast(SPECIES, keys[k2 + i]);
            a20 = x0.fma(b, a20);
            a21 = x1.fma(b, a21);
            b = FloatVector.broadcast(SPECIES, keys[k3 + i]);
            a30 = x0.fma(b, a30);
            a31 = x1.fma(b, a31);
        }
        a00.intoArray(st, o + c);
        a01.intoArray(st, o + c + LANES);
        a10.intoArray(st, o + rs + c);
        a11.intoArray(st, o + rs + c + LANES);
        a20.intoArray(st, o + 2 * rs + c);
        a21.intoArray(st, o + 2 * rs + c + LANES);
        a30.intoArray(st, o + 3 * rs + c);
        a31.intoArray(st, o + 3 * rs + c + LANES);
        maxInto(tmax, c, a00.max(a10).max(a20.max(a30)));
        maxInto(tmax, c + LANES, a01.max(a11).max(a21.max(a31)));
    }

    /** Scores of keys at {@code k0..} (4) for 1 row vector(s) from lane {@code c}, into row {@code o} of S^T. */
    private static void scores1x4(float[] qt, int rs, int c, float[] keys, int k0, int k1, int k2, int k3,
            int d, float[] st, int o, float[] tmax) {
        FloatVector zero = FloatVector.zero(SPECIES);
        FloatVector a00 = zero;
        FloatVector a10 = zero;
        FloatVector a20 = zero;
        FloatVector a30 = zero;
        for (int i = 0; i < d; i++) {
            int qo = i * rs + c;
            FloatVector x0 = FloatVector.fromArray(SPECIES, qt, qo);
            FloatVector b = FloatVector.broadcast(SPECIES, keys[k0 + i]);
            a00 = x0.fma(b, a00);
            b = FloatVector.broadcast(SPECIES, keys[k1 + i]);
            a10 = x0.fma(b, a10);
            b = FloatVector.broadcast(SPECIES, keys[k2 + i]);
            a20 = x0.fma(b, a20);
            b = FloatVector.broadcast(SPECIES, keys[k3 + i]);
            a30 = x0.fma(b, a30);
        }
        a00.intoArray(st, o + c);
        a10.intoArray(st, o + rs + c);
        a20.intoArray(st, o + 2 * rs + c);
        a30.intoArray(st, o + 3 * rs + c);
        maxInto(tmax, c, a00.max(a10).max(a20.max(a30)));
    }

    /** Scores of keys at {@code k0..} (1) for 1 row vector(s) from lane {@code c}, into row {@code o} of S^T. */
    private static void scores1x1(float[] qt, int rs, int c, float[] keys, int k0,
            int d, float[] st, int o, float[] tmax) {
        FloatVector zero = FloatVector.zero(SPECIES);
        FloatVector a00 = zero;
        for (int i = 0; i < d; i++) {
            int qo = i * rs + c;
            FloatVector x0 = FloatVector.fromArray(SPECIES, qt, qo);
            FloatVector b = FloatVector.broadcast(SPECIES, keys[k0 + i]);
            a00 = x0.fma(b, a00);
        }
        a00.intoArray(st, o + c);
        maxInto(tmax, c, a00);
    }

    private static void maxInto(float[] a, int off, FloatVector x) {
        FloatVector.fromArray(SPECIES, a, off).max(x).intoArray(a, off);
    }

    /**
     * Lane-wise online softmax over keys {@code 0..nv-1} of the tile, each lane a row with its own visible limit:
     * leaves probabilities {@code exp(s - mNew)} in {@code scoresT} (exactly 0 for keys a row may not see), each row's
     * new running max {@code mNew} in {@code tileMax} and the sum of its probabilities in {@code rowSum}.
     * {@link #accumulateWide} then rescales the running sums and accumulators to {@code mNew}.
     *
     * <p>One vector exp per compilation unit, here and in {@link #accumulateWide}: C2 stops inlining a compilation at a
     * node budget, and vector code left out of line boxes its vectors on every call (measured: megabytes per call and
     * several times slower). The former single pass with three exps ran past that budget.
     */
    private static void softmaxWide(AttentionScratch sc, int rows, int rowVecs, int nv) {
        final int rs = sc.rowStride;
        final float[] st = sc.scoresT;
        final int[] visible = sc.visible;
        final FloatVector negInf = FloatVector.broadcast(SPECIES, Float.NEGATIVE_INFINITY);
        final FloatVector zero = FloatVector.zero(SPECIES);
        for (int v = 0; v < rowVecs; v++) {
            final int c = v * LANES;
            // every lane a real row that sees all nv keys (rows see more keys as r grows): no mask needed
            final boolean full = c + LANES <= rows && visible[c] >= nv;
            final FloatVector vis = FloatVector.fromArray(SPECIES, sc.visibleF, c);
            final FloatVector mOld = FloatVector.fromArray(SPECIES, sc.m, c);
            FloatVector mNew;
            if (full) {
                mNew = mOld.max(FloatVector.fromArray(SPECIES, sc.tileMax, c)); // the score kernel's max
            } else {
                FloatVector mx = negInf;
                for (int j = 0; j < nv; j++) {
                    FloatVector x = FloatVector.fromArray(SPECIES, st, j * rs + c);
                    mx = mx.max(negInf.blend(x, vis.compare(VectorOperators.GT, (float) j)));
                }
                mNew = mOld.max(mx);
            }
            FloatVector sum = zero;
            for (int j = 0; j < nv; j++) {
                int o = j * rs + c;
                FloatVector p = VectorExp.expNonPositive(FloatVector.fromArray(SPECIES, st, o).sub(mNew));
                if (!full) p = zero.blend(p, vis.compare(VectorOperators.GT, (float) j));
                p.intoArray(st, o);
                sum = sum.add(p);
            }
            mNew.intoArray(sc.tileMax, c);
            sum.intoArray(sc.rowSum, c);
        }
    }

    /** {@code acc} rows {@code r..r+3}, dims {@code i..i+2*LANES}: rescale by {@code c0..c3}, add P^T · V over nv keys. */
    private static void accumulate4x2(float[] acc, int o0, int i, int d, float c0, float c1, float c2, float c3,
            float[] values, float[] p, int rs, int r, int nv) {
        final int o1 = o0 + d, o2 = o1 + d, o3 = o2 + d;
        FloatVector a00 = FloatVector.fromArray(SPECIES, acc, o0 + i).mul(c0);
        FloatVector a01 = FloatVector.fromArray(SPECIES, acc, o0 + i + LANES).mul(c0);
        FloatVector a10 = FloatVector.fromArray(SPECIES, acc, o1 + i).mul(c1);
        FloatVector a11 = FloatVector.fromArray(SPECIES, acc, o1 + i + LANES).mul(c1);
        FloatVector a20 = FloatVector.fromArray(SPECIES, acc, o2 + i).mul(c2);
        FloatVector a21 = FloatVector.fromArray(SPECIES, acc, o2 + i + LANES).mul(c2);
        FloatVector a30 = FloatVector.fromArray(SPECIES, acc, o3 + i).mul(c3);
        FloatVector a31 = FloatVector.fromArray(SPECIES, acc, o3 + i + LANES).mul(c3);
        for (int j = 0; j < nv; j++) {
            int vo = j * d + i;
            FloatVector v0 = FloatVector.fromArray(SPECIES, values, vo);
            FloatVector v1 = FloatVector.fromArray(SPECIES, values, vo + LANES);
            int po = j * rs + r;
            FloatVector b = FloatVector.broadcast(SPECIES, p[po]);
            a00 = v0.fma(b, a00);
            a01 = v1.fma(b, a01);
            b = FloatVector.broadcast(SPECIES, p[po + 1]);
            a10 = v0.fma(b, a10);
            a11 = v1.fma(b, a11);
            b = FloatVector.broadcast(SPECIES, p[po + 2]);
            a20 = v0.fma(b, a20);
            a21 = v1.fma(b, a21);
            b = FloatVector.broadcast(SPECIES, p[po + 3]);
            a30 = v0.fma(b, a30);
            a31 = v1.fma(b, a31);
        }
        a00.intoArray(acc, o0 + i);
        a01.intoArray(acc, o0 + i + LANES);
        a10.intoArray(acc, o1 + i);
        a11.intoArray(acc, o1 + i + LANES);
        a20.intoArray(acc, o2 + i);
        a21.intoArray(acc, o2 + i + LANES);
        a30.intoArray(acc, o3 + i);
        a31.intoArray(acc, o3 + i + LANES);
    }

    /** Copies the rows {@code keyOff[0..n)} of {@code src} ({@code headDim} floats each) into {@code dst}, packed. */
    private void copyTile(float[] src, int[] keyOff, int n, float[] dst) {
        final int d = headDim;
        for (int j = 0; j < n; j++) System.arraycopy(src, keyOff[j], dst, j * d, d);
    }

    /**
     * Moves each row's running max and sum to the tile's {@code mNew} (from {@link #softmaxWide}), then
     * {@code acc[r] = acc[r] * corr[r] + sum_j P^T[j][r] V[j]} for the real rows, blocked 4 rows at a time;
     * {@code values} is the tile's V packed as {@code [key][headDim]}.
     */
    private void accumulateWide(AttentionScratch sc, float[] values, int rows) {
        final int d = headDim;
        final int rs = sc.rowStride;
        final float[] acc = sc.acc;
        final float[] p = sc.scoresT;
        final float[] corr = sc.corr;
        final int[] visible = sc.visible;
        // the running state moves to the new max: corr = exp(m - mNew), l = l * corr + sum, m = mNew
        for (int c = 0; c < rows; c += LANES) {
            FloatVector mNew = FloatVector.fromArray(SPECIES, sc.tileMax, c);
            FloatVector f = VectorExp.expNonPositive(FloatVector.fromArray(SPECIES, sc.m, c).sub(mNew));
            FloatVector.fromArray(SPECIES, sc.l, c).mul(f).add(FloatVector.fromArray(SPECIES, sc.rowSum, c))
                    .intoArray(sc.l, c);
            mNew.intoArray(sc.m, c);
            f.intoArray(corr, c);
        }
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            final int nv = visible[r + 3];
            final float c0 = corr[r], c1 = corr[r + 1], c2 = corr[r + 2], c3 = corr[r + 3];
            if (nv == 0) continue; // no key seen in this tile: the max did not move, corr is 1
            final int o0 = r * d, o1 = o0 + d, o2 = o1 + d, o3 = o2 + d;
            int i = 0;
            for (; i + 2 * LANES <= d; i += 2 * LANES) {
                accumulate4x2(acc, o0, i, d, c0, c1, c2, c3, values, p, rs, r, nv);
            }
            for (; i + LANES <= d; i += LANES) {
                FloatVector a0 = FloatVector.fromArray(SPECIES, acc, o0 + i).mul(c0);
                FloatVector a1 = FloatVector.fromArray(SPECIES, acc, o1 + i).mul(c1);
                FloatVector a2 = FloatVector.fromArray(SPECIES, acc, o2 + i).mul(c2);
                FloatVector a3 = FloatVector.fromArray(SPECIES, acc, o3 + i).mul(c3);
                for (int j = 0; j < nv; j++) {
                    FloatVector vv = FloatVector.fromArray(SPECIES, values, j * d + i);
                    int po = j * rs + r;
                    a0 = vv.fma(FloatVector.broadcast(SPECIES, p[po]), a0);
                    a1 = vv.fma(FloatVector.broadcast(SPECIES, p[po + 1]), a1);
                    a2 = vv.fma(FloatVector.broadcast(SPECIES, p[po + 2]), a2);
                    a3 = vv.fma(FloatVector.broadcast(SPECIES, p[po + 3]), a3);
                }
                a0.intoArray(acc, o0 + i);
                a1.intoArray(acc, o1 + i);
                a2.intoArray(acc, o2 + i);
                a3.intoArray(acc, o3 + i);
            }
            for (; i < d; i++) {
                float x0 = acc[o0 + i] * c0, x1 = acc[o1 + i] * c1, x2 = acc[o2 + i] * c2, x3 = acc[o3 + i] * c3;
                for (int j = 0; j < nv; j++) {
                    float vf = values[j * d + i];
                    int po = j * rs + r;
                    x0 += p[po] * vf;
                    x1 += p[po + 1] * vf;
                    x2 += p[po + 2] * vf;
                    x3 += p[po + 3] * vf;
                }
                acc[o0 + i] = x0;
                acc[o1 + i] = x1;
                acc[o2 + i] = x2;
                acc[o3 + i] = x3;
            }
        }
        for (; r < rows; r++) {
            final int nv = visible[r];
            if (nv == 0) continue;
            final float c0 = corr[r];
            final int o0 = r * d;
            int i = 0;
            for (; i + LANES <= d; i += LANES) {
                FloatVector a0 = FloatVector.fromArray(SPECIES, acc, o0 + i).mul(c0);
                for (int j = 0; j < nv; j++) {
                    a0 = FloatVector.fromArray(SPECIES, values, j * d + i)
                            .fma(FloatVector.broadcast(SPECIES, p[j * rs + r]), a0);
                }
                a0.intoArray(acc, o0 + i);
            }
            for (; i < d; i++) {
                float x0 = acc[o0 + i] * c0;
                for (int j = 0; j < nv; j++) x0 += p[j * rs + r] * values[j * d + i];
                acc[o0 + i] = x0;
            }
        }
    }
}
