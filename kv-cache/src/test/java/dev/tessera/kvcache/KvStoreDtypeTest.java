package dev.tessera.kvcache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** A 16-bit store: rounded writes, half the bytes per block, twice the blocks and tokens for a budget. */
class KvStoreDtypeTest {
    private static final KvCacheSpec SPEC = new KvCacheSpec(3, 2, 8, 16);

    @ParameterizedTest
    @EnumSource(KvDType.class)
    void writesRoundToTheStoresType(KvDType dtype) {
        KvStore store = new KvStore(SPEC.withDtype(dtype), 4);
        float[] k = new float[SPEC.numKvHeads() * SPEC.headDim()];
        float[] v = new float[k.length];
        for (int i = 0; i < k.length; i++) {
            k[i] = (float) Math.PI * (i + 1) / 7;
            v[i] = -1e-3f * (i + 1) / 3;
        }
        store.write(2, 37, k, 0, v, 0); // block 2, slot 5
        for (int h = 0; h < SPEC.numKvHeads(); h++) {
            for (int i = 0; i < SPEC.headDim(); i++) {
                int src = h * SPEC.headDim() + i;
                int at = store.offset(2, h, 5) + i;
                float ek = dtype == KvDType.FP32 ? k[src] : dtype.decode(dtype.encode(k[src]));
                float ev = dtype == KvDType.FP32 ? v[src] : dtype.decode(dtype.encode(v[src]));
                assertEquals(ek, store.key(2, at));
                assertEquals(ev, store.value(2, at));
            }
        }
    }

    @Test
    void aBudgetHoldsTwiceTheBlocksAt16Bits() {
        KvCacheSpec fp32 = SPEC;
        long budget = 1000 * fp32.bytesPerBlock() + 17;
        assertEquals(2L * 3 * 2 * 16 * 8 * 4, fp32.bytesPerBlock());
        for (KvDType half : new KvDType[] {KvDType.BF16, KvDType.FP16}) {
            KvCacheSpec s = SPEC.withDtype(half);
            assertEquals(fp32.bytesPerBlock() / 2, s.bytesPerBlock());
            assertEquals(2 * fp32.blocksForBudget(budget), s.blocksForBudget(budget));
            assertEquals(budget - 17, new KvStore(s, s.blocksForBudget(budget)).bytes());
        }
    }

    /** Usage is a fraction of blocks, whatever their size: with twice the blocks, the same sequence uses half. */
    @Test
    void usageCountsBlocksOfTheLargerPool() {
        long budget = 64L * SPEC.bytesPerBlock();
        for (KvDType dtype : KvDType.values()) {
            KvCacheSpec s = SPEC.withDtype(dtype);
            PagedKvCache cache = new PagedKvCache(new KvStore(s, s.blocksForBudget(budget)), false);
            assertEquals(dtype == KvDType.FP32 ? 64 : 128, cache.totalBlocks());
            cache.allocateSlots(1, 0, 40); // 3 blocks of 16
            assertEquals(3.0 / cache.totalBlocks(), cache.stats().usage(), 1e-12, dtype.key());
            cache.free(1);
            assertEquals(0.0, cache.stats().usage());
        }
    }

    @Test
    void storesRefuseTheOtherLayout() {
        assertThrows(IllegalStateException.class, () -> new KvStore(SPEC.withDtype(KvDType.BF16), 1).keys(0));
        assertThrows(IllegalStateException.class, () -> new KvStore(SPEC, 1).keyBits(0));
    }

    @Test
    void parsesTheFlagValues() {
        assertEquals(KvDType.BF16, KvDType.parse("bf16"));
        assertEquals(KvDType.FP16, KvDType.parse("FP16"));
        assertEquals(KvDType.FP32, KvDType.parse("fp32"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KvDType.parse("int8"));
        assertEquals("KV dtype 'int8' is not one of fp32, bf16, fp16", e.getMessage());
    }
}
