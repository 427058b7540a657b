package dev.tessera.engine.text.convert;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.text.model.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Converted graphs are cached under a key of their inputs and reused on restart. */
class GraphCacheTest {
    @TempDir
    Path tmp;

    SegmentConverter.Converted convert(Path model, Path cache) {
        ModelConfig config = ModelConfig.load(model);
        try (Checkpoint ck = Checkpoint.open(model)) {
            return new SegmentConverter(ck, config).convert(cache);
        }
    }

    @Test
    void reusesGraphsOnRestartAndReconvertsWhenTheConfigChanges() throws IOException {
        Path model = tmp.resolve("model");
        Files.createDirectories(model);
        try (Stream<Path> files = Files.list(BadCheckpointTest.FIXTURES.resolve("llama-tied"))) {
            for (Path f : files.toList()) Files.copy(f, model.resolve(f.getFileName()));
        }
        Path cache = tmp.resolve("cache");

        SegmentConverter.Converted first = convert(model, cache);
        assertFalse(first.reused());
        assertEquals(3, first.segments().size());
        for (Path p : first.segments()) assertTrue(Files.isRegularFile(p), p + " exists");
        assertTrue(Files.isRegularFile(first.dir().resolve(WeightsFile.NAME)));
        long mtime = Files.getLastModifiedTime(first.segments().get(0)).toMillis();

        SegmentConverter.Converted second = convert(model, cache);
        assertTrue(second.reused());
        assertEquals(first.dir(), second.dir());
        assertEquals(mtime, Files.getLastModifiedTime(second.segments().get(0)).toMillis());

        Path cfg = model.resolve("config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": 2e-05"));
        SegmentConverter.Converted third = convert(model, cache);
        assertFalse(third.reused());
        assertNotEquals(first.dir(), third.dir());
        try (Stream<Path> dirs = Files.list(cache.resolve("graphs"))) {
            assertEquals(2, dirs.count(), "no temporary directories left behind");
        }
    }

    @Test
    void concurrentConversionsOfOneCheckpointAgree() throws Exception {
        Path model = BadCheckpointTest.FIXTURES.resolve("llama-gqa");
        Path cache = tmp.resolve("cache");
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(3);
        try {
            java.util.List<java.util.concurrent.Future<SegmentConverter.Converted>> runs = new java.util.ArrayList<>();
            for (int i = 0; i < 3; i++) runs.add(pool.submit(() -> convert(model, cache)));
            Path dir = runs.get(0).get().dir();
            for (var r : runs) assertEquals(dir, r.get().dir());
        } finally {
            pool.shutdown();
        }
        try (Stream<Path> dirs = Files.list(cache.resolve("graphs"))) {
            assertEquals(1, dirs.count(), "one converted directory, no temporary ones");
        }
    }
}
