package dev.tessera.kvcache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A 16-bit store: rounded writes, half the bytes per block, twice the blocks and tokens for a budget. An int8 store:
 * each (token, KV head) vector quantized with its own scale, {@code D + 4} bytes per vector instead of {@code 4 D}.
 */
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
        int d = SPEC.headDim();
        for (int h = 0; h < SPEC.numKvHeads(); h++) {
            byte[] kc = new byte[d];
            byte[] vc = new byte[d];
            float ks = SymmetricInt8.quantize(k, h * d, d, kc, 0); // each head's vector on its own scale
            float vs = SymmetricInt8.quantize(v, h * d, d, vc, 0);
            for (int i = 0; i < d; i++) {
                int src = h * d + i;
                int at = store.offset(2, h, 5) + i;
                float ek = switch (dtype) {
                    case FP32 -> k[src];
                    case BF16, FP16 -> dtype.decode(dtype.encode(k[src]));
                    case INT8 -> SymmetricInt8.dequantize(kc[i], ks);
                };
                float ev = switch (dtype) {
                    case FP32 -> v[src];
                    case BF16, FP16 -> dtype.decode(dtype.encode(v[src]));
                    case INT8 -> SymmetricInt8.dequantize(vc[i], vs);
                };
                assertEquals(ek, store.key(2, at));
                assertEquals(ev, store.value(2, at));
            }
        }
    }

    @Test
    void anInt8StoreKeepsCodesAndOneScalePerVector() {
        KvStore store = new KvStore(SPEC.withDtype(KvDType.INT8), 4);
        float[] k = new float[SPEC.numKvHeads() * SPEC.headDim()];
        float[] v = new float[k.length];
        for (int i = 0; i < k.length; i++) {
            k[i] = i < SPEC.headDim() ? 0.5f * i : -100f + i; // head 0 max 3.5, head 1 max |-92|
            v[i] = 2f;
        }
        store.write(1, 21, k, 0, v, 0); // block 1, slot 5
        int vector = store.offset(1, 1, 5) / SPEC.headDim();
        assertEquals(3.5f / 127, store.keyScales(1)[store.offset(1, 0, 5) / SPEC.headDim()]);
        assertEquals(92f / 127, store.keyScales(1)[vector]);
        assertEquals(-127, store.keyCodes(1)[store.offset(1, 1, 5)]);
        assertEquals(127, store.valueCodes(1)[store.offset(1, 1, 5) + 3]);
        assertEquals(2f / 127, store.valueScales(1)[vector]);
        // copy-on-write copies the scales with the codes
        store.copyBlock(1, 3);
        assertEquals(store.key(1, store.offset(1, 1, 5) + 2), store.key(1, store.offset(3, 1, 5) + 2));
        assertEquals(92f / 127, store.keyScales(1)[store.offset(3, 1, 5) / SPEC.headDim()]);
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
        // int8: D bytes of codes + a 4-byte scale per vector, (8 + 4) / 32 of fp32's here (head dim 8), so 2.67x
        // the blocks; at head dim 128 it is 132 / 512, 3.88x
        KvCacheSpec int8 = SPEC.withDtype(KvDType.INT8);
        assertEquals(2L * 3 * 2 * 16 * (8 + 4), int8.bytesPerBlock());
        assertEquals(budget / int8.bytesPerBlock(), int8.blocksForBudget(budget));
        assertEquals(2666, int8.blocksForBudget(budget));
        KvStore store = new KvStore(int8, int8.blocksForBudget(budget));
        assertEquals(2666 * int8.bytesPerBlock(), store.bytes());
        KvCacheSpec wide = new KvCacheSpec(2, 8, 128, 16);
        assertEquals(512.0 / 132, (double) wide.bytesPerBlock() / wide.withDtype(KvDType.INT8).bytesPerBlock(), 1e-12);
    }

    /** Usage is a fraction of blocks, whatever their size: with twice the blocks, the same sequence uses half. */
    @Test
    void usageCountsBlocksOfTheLargerPool() {
        long budget = 64L * SPEC.bytesPerBlock();
        for (KvDType dtype : KvDType.values()) {
            KvCacheSpec s = SPEC.withDtype(dtype);
            PagedKvCache cache = new PagedKvCache(new KvStore(s, s.blocksForBudget(budget)), false);
            int blocks = switch (dtype) {
                case FP32 -> 64;
                case BF16, FP16 -> 128;
                case INT8 -> 170; // 64 * 32 / 12, rounded down: (8 + 4) bytes per vector against 32
            };
            assertEquals(blocks, cache.totalBlocks(), dtype.key());
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
        assertThrows(IllegalStateException.class, () -> new KvStore(SPEC.withDtype(KvDType.INT8), 1).keys(0));
        assertThrows(IllegalStateException.class, () -> new KvStore(SPEC.withDtype(KvDType.FP16), 1).keyCodes(0));
        assertThrows(IllegalStateException.class, () -> new KvStore(SPEC, 1).valueScales(0));
    }

    @Test
    void parsesTheFlagValues() {
        assertEquals(KvDType.BF16, KvDType.parse("bf16"));
        assertEquals(KvDType.FP16, KvDType.parse("FP16"));
        assertEquals(KvDType.FP32, KvDType.parse("fp32"));
        assertEquals(KvDType.INT8, KvDType.parse("Int8"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KvDType.parse("fp8"));
        assertEquals("KV dtype 'fp8' is not one of fp32, bf16, fp16, int8", e.getMessage());
    }
}
