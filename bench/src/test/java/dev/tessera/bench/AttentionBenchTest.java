package dev.tessera.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.kvcache.KvDType;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The bench's kernels agree: the Java kernels match ORT's on the same decode step and the same packed spans. */
class AttentionBenchTest {
    @Test
    void javaKernelMatchesOrtGroupQueryAttention() throws Exception {
        AttentionBench bench = new AttentionBench(2);
        try {
            for (int past : new int[] {1, 37, 100}) {
                AttentionBench.ShapeResult r = bench.measure(3, past, 1);
                assertTrue(r.maxAbsDiff() <= 1e-4, "past " + past + ": max abs diff " + r.maxAbsDiff());
                // the 16-bit caches against ORT's fp16 kernel (or fp32 without it): outputs are convex mixes of
                // values in [-1, 1], so a few ulps of the coarser format (bf16 2^-8, fp16 2^-11) bound the gap; int8
                // moves each element by up to 1/254 of its vector's largest (about 1), so bf16's bound holds it too
                assertEquals(List.of(KvDType.BF16, KvDType.FP16, KvDType.INT8),
                        r.kvDtypes().stream().map(AttentionBench.DtypeResult::dtype).toList());
                for (AttentionBench.DtypeResult h : r.kvDtypes()) {
                    assertEquals(bench.halfOrtType(), h.ortType());
                    double bound = h.dtype() == KvDType.FP16 ? 4e-3 : 2e-2;
                    assertTrue(h.maxAbsDiff() <= bound, "past " + past + ", " + h.dtype().key() + " KV: max abs diff "
                            + h.maxAbsDiff());
                    assertTrue(h.ratio() > 0 && Double.isFinite(h.ratio()), h.dtype().key() + ": " + h.ratio());
                }
            }
        } finally {
            bench.close();
        }
    }

    @Test
    void packedKernelMatchesBothOrtGraphs() throws Exception {
        List<AttentionBench.PackedShape> shapes = List.of(
                new AttentionBench.PackedShape("self", 8, 32, new int[] {17, 40, 1, 5}, new int[] {17, 40, 1, 5}),
                new AttentionBench.PackedShape("cross", 8, 32, new int[] {10, 3, 0, 7}, new int[] {17, 40, 2, 5}),
                new AttentionBench.PackedShape("vision", 4, 80, new int[] {33, 70}, new int[] {33, 70}));
        AttentionBench bench = new AttentionBench(2);
        try {
            for (AttentionBench.PackedShape shape : shapes) {
                AttentionBench.PackedResult r = bench.measurePacked(shape, 1);
                assertTrue(r.maxAbsDiff() <= 1e-4, shape.name() + ": max abs diff " + r.maxAbsDiff());
                assertTrue(r.ratio() > 0 && Double.isFinite(r.ratio()), shape.name() + ": ratio " + r.ratio());
            }
        } finally {
            bench.close();
        }
        assertEquals(4, AttentionBench.PackedShape.standard(false).size());
    }
}
