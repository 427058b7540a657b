package dev.tessera.engine.text.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.engine.attention.PagedAttention;
import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.text.convert.SegmentConverter;
import dev.tessera.engine.text.model.ModelConfig;
import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.kvcache.KvCacheSpec;
import dev.tessera.kvcache.KvStore;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * With row-invariant attention a token's logits are bit-identical whether its context was computed in one prefill
 * or token by token as decodes (what a resumed or recomputed stream relies on to continue exactly). Without it the
 * two differ in the last bits (measured up to 4.2e-6 on these fixtures), because the decode and prefill tiles sum
 * in different orders.
 */
class RowInvariantAttentionTest {
    @TempDir
    Path cache;

    @ParameterizedTest
    @CsvSource({"llama-gqa,10", "llama-gqa,72", "qwen2-bias,40", "llama-tied,80"})
    void prefillAndTokenByTokenDecodeGiveTheSameBits(String name, int n) throws Exception {
        Path dir = Path.of("src/test/resources/fixtures").resolve(name);
        ModelConfig config = ModelConfig.load(dir);
        try (Checkpoint ck = Checkpoint.open(dir)) {
            var graphs = new SegmentConverter(ck, config).convert(cache);
            ModelInfo info = config.toInfo(name, 0);
            KvCacheSpec spec = new KvCacheSpec(info.numLayers(), info.numKvHeads(), info.headDim(), 16);
            KvStore store = new KvStore(spec, 64);
            try (OrtModelExecutor ex = new OrtModelExecutor(info, graphs.segments(), store,
                    new PagedAttention(spec, info.numHeads(), 2).rowInvariant(true), 256, 4, 1)) {
                GreedyRunner r = new GreedyRunner(ex, store, 256, 4);
                int[] text = new int[n];
                for (int i = 0; i < n; i++) text[i] = 3 + (i * 37) % (info.vocabSize() - 3);
                float[] prefilled = r.prefill(text);
                r.prefill(Arrays.copyOf(text, 1));
                for (int i = 1; i < n; i++) {
                    r.batch.clear();
                    r.batch.addSequence(text, i, 1, r.table(0), r.blocksPerSeq, r.blockSize, true);
                    ex.execute(r.batch, r.logits);
                }
                assertArrayEquals(prefilled, Arrays.copyOf(r.logits, r.vocab), name + ", " + n + " tokens");
                assertEquals(0, ex.openNativeTensors());
            }
        }
    }
}
