package dev.tessera.engine.attention;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * The few-row path (decodes): each score is a vector dot product of a query row and a key over the head dim plus a
 * lane reduction, four rows and two keys at a time so each key loaded serves four rows and eight FMA chains run at
 * once; the softmax runs row by row, and P·V broadcasts each probability over two vectors of the value row, read at
 * its offset (the paged kernel has already copied the tile into the scratch, packed). Wastes no lanes on a single
 * query token and reads each key once per item. The blocking was chosen from a profile of the bench's decode shape
 * on AVX2 (P·V about 60% of the time, most of it waiting on V loads at a row's stride, before tiles were copied; the
 * scores about 30%, a quarter of that the lane reductions): it took about 15% off a decode step's CPU time there;
 * every sum keeps its order, so results are unchanged.
 */
final class FewRowTiles extends AttentionTiles {
    FewRowTiles(int numHeads, int group, int headDim, int tileTokens) {
        super(numHeads, group, headDim, tileTokens);
    }

    @Override
    void attend(AttentionScratch sc, float[] q, float[] out, float[] kArr, float[] vArr, int firstRow, int tokens,
            int kvHead, int nKeys, TileKeys keys) {
        final int d = headDim;
        final int g = group;
        final int rows = tokens * g;
        final int rowFloats = numHeads * d;
        final float[] qs = sc.q;
        // gather and pre-scale this item's query rows: r = token * group + head-in-group
        for (int t = 0; t < tokens; t++) {
            for (int h = 0; h < g; h++) {
                int src = (firstRow + t) * rowFloats + (kvHead * g + h) * d;
                scaleCopy(q, src, qs, (t * g + h) * d, d, scale);
            }
        }
        Arrays.fill(sc.m, 0, rows, Float.NEGATIVE_INFINITY);
        Arrays.fill(sc.l, 0, rows, 0f);
        Arrays.fill(sc.acc, 0, rows * d, 0f);

        final int[] visible = sc.visible;
        for (int t0 = 0; t0 < nKeys; t0 += tileTokens) {
            final int n = Math.min(tileTokens, nKeys - t0);
            keys.tile(sc, t0, n, tokens, g);
            int r = 0;
            for (; r + 4 <= rows; r += 4) {
                int nv = visible[r + 3];
                if (nv == 0) continue;
                scores4(sc, kArr, r, nv);
                for (int k = 0; k < 4; k++) softmaxRow(sc, r + k, n);
                accumulate4(sc, vArr, r, nv);
            }
            for (; r < rows; r++) {
                int nv = visible[r];
                if (nv == 0) continue;
                scores1(sc, kArr, r, nv);
                softmaxRow(sc, r, n);
                accumulate1(sc, vArr, r, nv);
            }
        }
        finish(sc, out, firstRow, tokens, kvHead);
    }

    /** Scores of rows r..r+3 against keys 0..nv-1 of the tile. */
    private void scores4(AttentionScratch sc, float[] keys, int r, int nv) {
        final int d = headDim;
        final int bound = SPECIES.loopBound(d);
        final float[] qs = sc.q;
        final float[] s = sc.scores;
        final int[] keyOff = sc.keyOffsets;
        final int tile = tileTokens;
        final int q0 = r * d, q1 = q0 + d, q2 = q1 + d, q3 = q2 + d;
        final int s0 = r * tile, s1 = s0 + tile, s2 = s1 + tile, s3 = s2 + tile;
        int j = 0;
        // two keys per pass: 8 independent FMA chains (4 were too few to keep both FMA units busy, their latency
        // exposed), 4 query and 2 key vectors, 14 of AVX2's 16 registers; each score sums in the same order as alone
        for (; j + 2 <= nv; j += 2) {
            final int ka = keyOff[j];
            final int kb = keyOff[j + 1];
            FloatVector a0 = FloatVector.zero(SPECIES);
            FloatVector a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            int i = 0;
            for (; i < bound; i += LANES) {
                FloatVector ka0 = FloatVector.fromArray(SPECIES, keys, ka + i);
                FloatVector kb0 = FloatVector.fromArray(SPECIES, keys, kb + i);
                FloatVector x = FloatVector.fromArray(SPECIES, qs, q0 + i);
                a0 = x.fma(ka0, a0);
                b0 = x.fma(kb0, b0);
                x = FloatVector.fromArray(SPECIES, qs, q1 + i);
                a1 = x.fma(ka0, a1);
                b1 = x.fma(kb0, b1);
                x = FloatVector.fromArray(SPECIES, qs, q2 + i);
                a2 = x.fma(ka0, a2);
                b2 = x.fma(kb0, b2);
                x = FloatVector.fromArray(SPECIES, qs, q3 + i);
                a3 = x.fma(ka0, a3);
                b3 = x.fma(kb0, b3);
            }
            float x0 = a0.reduceLanes(VectorOperators.ADD);
            float x1 = a1.reduceLanes(VectorOperators.ADD);
            float x2 = a2.reduceLanes(VectorOperators.ADD);
            float x3 = a3.reduceLanes(VectorOperators.ADD);
            float y0 = b0.reduceLanes(VectorOperators.ADD);
            float y1 = b1.reduceLanes(VectorOperators.ADD);
            float y2 = b2.reduceLanes(VectorOperators.ADD);
            float y3 = b3.reduceLanes(VectorOperators.ADD);
            for (; i < d; i++) {
                float kf = keys[ka + i];
                float kg = keys[kb + i];
                x0 += qs[q0 + i] * kf;
                x1 += qs[q1 + i] * kf;
                x2 += qs[q2 + i] * kf;
                x3 += qs[q3 + i] * kf;
                y0 += qs[q0 + i] * kg;
                y1 += qs[q1 + i] * kg;
                y2 += qs[q2 + i] * kg;
                y3 += qs[q3 + i] * kg;
            }
            s[s0 + j] = x0;
            s[s1 + j] = x1;
            s[s2 + j] = x2;
            s[s3 + j] = x3;
            s[s0 + j + 1] = y0;
            s[s1 + j + 1] = y1;
            s[s2 + j + 1] = y2;
            s[s3 + j + 1] = y3;
        }
        for (; j < nv; j++) {
            int ko = keyOff[j];
            FloatVector a0 = FloatVector.zero(SPECIES);
            FloatVector a1 = a0, a2 = a0, a3 = a0;
            int i = 0;
            for (; i < bound; i += LANES) {
                FloatVector kv = FloatVector.fromArray(SPECIES, keys, ko + i);
                a0 = FloatVector.fromArray(SPECIES, qs, q0 + i).fma(kv, a0);
                a1 = FloatVector.fromArray(SPECIES, qs, q1 + i).fma(kv, a1);
                a2 = FloatVector.fromArray(SPECIES, qs, q2 + i).fma(kv, a2);
                a3 = FloatVector.fromArray(SPECIES, qs, q3 + i).fma(kv, a3);
            }
            float x0 = a0.reduceLanes(VectorOperators.ADD);
            float x1 = a1.reduceLanes(VectorOperators.ADD);
            float x2 = a2.reduceLanes(VectorOperators.ADD);
            float x3 = a3.reduceLanes(VectorOperators.ADD);
            for (; i < d; i++) {
                float kf = keys[ko + i];
                x0 += qs[q0 + i] * kf;
                x1 += qs[q1 + i] * kf;
                x2 += qs[q2 + i] * kf;
                x3 += qs[q3 + i] * kf;
            }
            s[s0 + j] = x0;
            s[s1 + j] = x1;
            s[s2 + j] = x2;
            s[s3 + j] = x3;
        }
    }

    /** Scores of row r against keys 0..nv-1 of the tile. */
    private void scores1(AttentionScratch sc, float[] keys, int r, int nv) {
        final int d = headDim;
        final int bound = SPECIES.loopBound(d);
        final float[] qs = sc.q;
        final float[] s = sc.scores;
        final int[] keyOff = sc.keyOffsets;
        final int q0 = r * d;
        final int s0 = r * tileTokens;
        for (int j = 0; j < nv; j++) {
            int ko = keyOff[j];
            FloatVector a0 = FloatVector.zero(SPECIES);
            int i = 0;
            for (; i < bound; i += LANES) {
                a0 = FloatVector.fromArray(SPECIES, qs, q0 + i).fma(FloatVector.fromArray(SPECIES, keys, ko + i), a0);
            }
            float x0 = a0.reduceLanes(VectorOperators.ADD);
            for (; i < d; i++) x0 += qs[q0 + i] * keys[ko + i];
            s[s0 + j] = x0;
        }
    }

    /**
     * Online softmax of row r over its visible keys: updates the running max and sum, rescales the row's accumulator
     * when the max grew, and leaves probabilities in the score tile (0 for keys the row may not see, up to n).
     */
    private void softmaxRow(AttentionScratch sc, int r, int n) {
        final float[] s = sc.scores;
        final int nv = sc.visible[r];
        final int off = r * tileTokens;
        if (nv == 0) {
            Arrays.fill(s, off, off + n, 0f);
            return;
        }
        final int bound = SPECIES.loopBound(nv);
        float mx = Float.NEGATIVE_INFINITY;
        int j = 0;
        if (bound > 0) {
            FloatVector vm = FloatVector.fromArray(SPECIES, s, off);
            for (j = LANES; j < bound; j += LANES) vm = vm.max(FloatVector.fromArray(SPECIES, s, off + j));
            mx = vm.reduceLanes(VectorOperators.MAX);
        }
        for (; j < nv; j++) mx = Math.max(mx, s[off + j]);
        final float mOld = sc.m[r];
        final float mNew = Math.max(mOld, mx);
        FloatVector sum = FloatVector.zero(SPECIES);
        j = 0;
        for (; j < bound; j += LANES) {
            FloatVector p = VectorExp.expNonPositive(FloatVector.fromArray(SPECIES, s, off + j).sub(mNew));
            p.intoArray(s, off + j);
            sum = sum.add(p);
        }
        float total = sum.reduceLanes(VectorOperators.ADD);
        for (; j < nv; j++) {
            float p = VectorExp.expNonPositive(s[off + j] - mNew);
            s[off + j] = p;
            total += p;
        }
        if (nv < n) Arrays.fill(s, off + nv, off + n, 0f);
        if (mNew > mOld && mOld != Float.NEGATIVE_INFINITY) {
            float corr = (float) Math.exp(mOld - mNew);
            sc.l[r] = sc.l[r] * corr + total;
            scaleInPlace(sc.acc, r * headDim, headDim, corr);
        } else {
            sc.l[r] += total;
        }
        sc.m[r] = mNew;
    }

    /** acc[r..r+3] += P[r..r+3][0..nv) · V[0..nv). */
    private void accumulate4(AttentionScratch sc, float[] values, int r, int nv) {
        final int d = headDim;
        final int bound = SPECIES.loopBound(d);
        final float[] acc = sc.acc;
        final float[] p = sc.scores;
        final int[] keyOff = sc.keyOffsets;
        final int tile = tileTokens;
        final int o0 = r * d, o1 = o0 + d, o2 = o1 + d, o3 = o2 + d;
        final int p0 = r * tile, p1 = p0 + tile, p2 = p1 + tile, p3 = p2 + tile;
        int i = 0;
        // two vectors of the head dim per pass over the keys: each broadcast probability serves two FMAs, and each
        // pass reads whole cache lines of the V rows (with one vector per pass, half-lines at a stride of a row,
        // profiled as most of this loop's time); 8 accumulators, 2 values, 1 broadcast fit AVX2's 16 registers.
        // Each element still sums its keys in order, so the blocking changes speed, never results.
        for (; i + 2 * LANES <= d; i += 2 * LANES) {
            FloatVector a00 = FloatVector.fromArray(SPECIES, acc, o0 + i);
            FloatVector a01 = FloatVector.fromArray(SPECIES, acc, o0 + i + LANES);
            FloatVector a10 = FloatVector.fromArray(SPECIES, acc, o1 + i);
            FloatVector a11 = FloatVector.fromArray(SPECIES, acc, o1 + i + LANES);
            FloatVector a20 = FloatVector.fromArray(SPECIES, acc, o2 + i);
            FloatVector a21 = FloatVector.fromArray(SPECIES, acc, o2 + i + LANES);
            FloatVector a30 = FloatVector.fromArray(SPECIES, acc, o3 + i);
            FloatVector a31 = FloatVector.fromArray(SPECIES, acc, o3 + i + LANES);
            for (int j = 0; j < nv; j++) {
                int vo = keyOff[j] + i;
                FloatVector v0 = FloatVector.fromArray(SPECIES, values, vo);
                FloatVector v1 = FloatVector.fromArray(SPECIES, values, vo + LANES);
                FloatVector b = FloatVector.broadcast(SPECIES, p[p0 + j]);
                a00 = v0.fma(b, a00);
                a01 = v1.fma(b, a01);
                b = FloatVector.broadcast(SPECIES, p[p1 + j]);
                a10 = v0.fma(b, a10);
                a11 = v1.fma(b, a11);
                b = FloatVector.broadcast(SPECIES, p[p2 + j]);
                a20 = v0.fma(b, a20);
                a21 = v1.fma(b, a21);
                b = FloatVector.broadcast(SPECIES, p[p3 + j]);
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
        for (; i < bound; i += LANES) {
            FloatVector a0 = FloatVector.fromArray(SPECIES, acc, o0 + i);
            FloatVector a1 = FloatVector.fromArray(SPECIES, acc, o1 + i);
            FloatVector a2 = FloatVector.fromArray(SPECIES, acc, o2 + i);
            FloatVector a3 = FloatVector.fromArray(SPECIES, acc, o3 + i);
            for (int j = 0; j < nv; j++) {
                FloatVector vv = FloatVector.fromArray(SPECIES, values, keyOff[j] + i);
                a0 = vv.fma(FloatVector.broadcast(SPECIES, p[p0 + j]), a0);
                a1 = vv.fma(FloatVector.broadcast(SPECIES, p[p1 + j]), a1);
                a2 = vv.fma(FloatVector.broadcast(SPECIES, p[p2 + j]), a2);
                a3 = vv.fma(FloatVector.broadcast(SPECIES, p[p3 + j]), a3);
            }
            a0.intoArray(acc, o0 + i);
            a1.intoArray(acc, o1 + i);
            a2.intoArray(acc, o2 + i);
            a3.intoArray(acc, o3 + i);
        }
        for (; i < d; i++) {
            float x0 = acc[o0 + i], x1 = acc[o1 + i], x2 = acc[o2 + i], x3 = acc[o3 + i];
            for (int j = 0; j < nv; j++) {
                float vf = values[keyOff[j] + i];
                x0 += p[p0 + j] * vf;
                x1 += p[p1 + j] * vf;
                x2 += p[p2 + j] * vf;
                x3 += p[p3 + j] * vf;
            }
            acc[o0 + i] = x0;
            acc[o1 + i] = x1;
            acc[o2 + i] = x2;
            acc[o3 + i] = x3;
        }
    }

    /** acc[r] += P[r][0..nv) · V[0..nv). */
    private void accumulate1(AttentionScratch sc, float[] values, int r, int nv) {
        final int d = headDim;
        final int bound = SPECIES.loopBound(d);
        final float[] acc = sc.acc;
        final float[] p = sc.scores;
        final int[] keyOff = sc.keyOffsets;
        final int o0 = r * d;
        final int p0 = r * tileTokens;
        int i = 0;
        for (; i < bound; i += LANES) {
            FloatVector a0 = FloatVector.fromArray(SPECIES, acc, o0 + i);
            for (int j = 0; j < nv; j++) {
                a0 = FloatVector.fromArray(SPECIES, values, keyOff[j] + i).fma(FloatVector.broadcast(SPECIES, p[p0 + j]), a0);
            }
            a0.intoArray(acc, o0 + i);
        }
        for (; i < d; i++) {
            float x0 = acc[o0 + i];
            for (int j = 0; j < nv; j++) x0 += p[p0 + j] * values[keyOff[j] + i];
            acc[o0 + i] = x0;
        }
    }
}
