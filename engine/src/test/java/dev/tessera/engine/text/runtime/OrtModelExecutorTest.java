package dev.tessera.engine.text.runtime;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.text.convert.SegmentConverter;
import dev.tessera.engine.text.model.ModelConfig;
import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.kvcache.KvCacheSpec;
import dev.tessera.kvcache.KvStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Executor edge cases: bad steps are rejected without side effects, and nothing native stays open. */
class OrtModelExecutorTest {
    @TempDir
    Path cache;

    OrtModelExecutor executor(KvStore store, ModelInfo info, SegmentConverter.Converted graphs) {
        return new OrtModelExecutor(info, graphs.segments(), store,
                new ReferenceAttention(info.numHeads(), info.numKvHeads(), info.headDim()), 32, 2, 1);
    }

    @Test
    void rejectsBadStepsAndKeepsWorking() {
        Path dir = ConformanceTest.FIXTURES.resolve("llama-tied");
        ModelConfig config = ModelConfig.load(dir);
        SegmentConverter.Converted graphs;
        try (Checkpoint ck = Checkpoint.open(dir)) {
            graphs = new SegmentConverter(ck, config).convert(cache);
        }
        ModelInfo info = config.toInfo("t", 0);
        KvStore store = new KvStore(new KvCacheSpec(info.numLayers(), info.numKvHeads(), info.headDim(), 16), 8);
        OrtModelExecutor ex = executor(store, info, graphs);
        GreedyRunner runner = new GreedyRunner(ex, store, 32, 2);
        int[] prompt = {1, 42, 71, 285, 81};
        float[] before = runner.prefill(prompt);

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> runner.prefill(new int[] {1, 9999}));
        assertTrue(e.getMessage().contains("token id 9999"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ex.execute(runner.batch, new float[3]));
        assertEquals(0, ex.openNativeTensors());

        assertArrayEquals(before, runner.prefill(prompt), "a rejected step changes nothing");
        assertEquals(0, ex.openNativeTensors());
        ExecutorTimings t = ex.timings();
        assertTrue(t.steps() >= 2 && t.ortNanos() > 0 && t.attentionNanos() > 0 && t.totalNanos() >= t.ortNanos());

        ex.close();
        assertEquals(0, ex.openNativeTensors());
        assertThrows(IllegalStateException.class, () -> runner.prefill(prompt));
        ex.close(); // idempotent
    }
}
