package dev.tessera.engine.text;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A load that fails halfway, after some ONNX Runtime sessions and the attention threads exist, closes them: a
 * corrupt cached segment graph fails its session after the first segment's session opened.
 */
class TextEngineLoadFailureTest {
    static final Path FIXTURE = Path.of("src/test/resources/fixtures/qwen2-bias");

    @TempDir
    Path cache;

    private TextEngineOptions options() {
        return TextEngineOptions.defaults(FIXTURE).withCacheDir(cache).withThreads(3).withKvMemoryBytes(4L << 20)
                .withMaxBatchTokens(64).withMaxSeqs(16);
    }

    @Test
    void aSessionFailingHalfwayClosesTheOpenedSessionsAndTheAttentionThreads() throws IOException {
        Path graphs;
        try (TextEngine engine = TextEngine.load(options())) {
            assertTrue(attentionThreads() >= 2, "the engine runs attention workers");
            graphs = engine.graphsDir();
        }
        awaitNoAttentionThreads();
        Path victim;
        try (Stream<Path> files = Files.list(graphs)) {
            victim = files.filter(p -> p.getFileName().toString().equals("segment-001.onnx")).findFirst()
                    .orElseThrow();
        }
        Files.write(victim, new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> TextEngine.load(options()));
        assertTrue(e.getMessage().contains("segment"), e.getMessage());
        awaitNoAttentionThreads();
    }

    private static long attentionThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith("tessera-attention")).count();
    }

    private static void awaitNoAttentionThreads() {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (attentionThreads() > 0) {
            assertTrue(System.nanoTime() < deadline, "attention threads left: " + attentionThreads());
            Thread.onSpinWait();
        }
    }
}
