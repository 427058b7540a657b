package dev.tessera.engine.detect;

import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tessera.builtin.SafetensorsWriter;
import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.checkpoint.TensorInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad checkpoints fail at load naming file and tensor; the graph cache; nothing native is left open. */
class DetrCheckpointTest {
    @TempDir
    Path tmp;

    /** A tensor to write: name, shape, values. */
    private record T(String name, long[] shape, float[] values) {
    }

    /** {@code src}'s three files in a new directory, with the tensor list changed by {@code edit}. */
    private Path copy(Path src, String name, Consumer<List<T>> edit) throws IOException {
        Path dir = tmp.resolve(name);
        Files.createDirectories(dir);
        Files.copy(src.resolve("config.json"), dir.resolve("config.json"));
        Files.copy(src.resolve("preprocessor_config.json"), dir.resolve("preprocessor_config.json"));
        List<T> tensors = new ArrayList<>();
        try (Checkpoint ck = Checkpoint.open(src)) {
            for (String n : ck.tensorNames()) {
                TensorInfo t = ck.tensor(n);
                tensors.add(new T(n, t.shape(), ck.readFloats(t)));
            }
        }
        edit.accept(tensors);
        List<SafetensorsWriter.Tensor> out = new ArrayList<>();
        for (T t : tensors) {
            float[] v = t.values();
            int[] at = {0};
            out.add(new SafetensorsWriter.Tensor(t.name(), t.shape(), (chunk, count) -> {
                for (int i = 0; i < count; i++) chunk[i] = at[0] < v.length ? v[at[0]++] : 0f;
            }));
        }
        SafetensorsWriter.writeF32(dir.resolve("model.safetensors"), out, Map.of("format", "pt"));
        return dir;
    }

    private CheckpointException refused(Path dir) {
        return assertThrows(CheckpointException.class,
                () -> DetrEngine.load(DetrOptions.defaults(dir).withCacheDir(tmp.resolve("cache")).withThreads(1)));
    }

    @Test
    void missingTensorIsNamed() throws IOException {
        String gone = "model.decoder.layers.1.encoder_attn.v_proj.weight";
        CheckpointException e = refused(copy(DetrFixtures.TIMM, "missing",
                l -> l.removeIf(t -> t.name().equals(gone))));
        assertEquals(gone, e.tensor());
        assertTrue(e.getMessage().contains("model.safetensors") && e.getMessage().contains("missing"), e.getMessage());

        String block = "model.backbone.conv_encoder.model.encoder.stages.2.layers.1.layer.1.convolution.weight";
        CheckpointException b = refused(copy(DetrFixtures.RESNET, "missing-block",
                l -> l.removeIf(t -> t.name().equals(block))));
        assertEquals(block, b.tensor(), b.getMessage());
    }

    @Test
    void wrongShapeIsNamed() throws IOException {
        String name = "model.input_projection.weight";
        CheckpointException e = refused(copy(DetrFixtures.TIMM, "shape", l -> l.replaceAll(t -> t.name()
                .equals(name) ? new T(name, new long[] {32, 64, 1, 1}, t.values()) : t)));
        assertEquals(name, e.tensor());
        assertTrue(e.getMessage().contains("wrong shape"), e.getMessage());

        String conv = "model.backbone.conv_encoder.model.layer2.0.conv2.weight";
        CheckpointException g = refused(copy(DetrFixtures.TIMM, "grouped", l -> l.replaceAll(t -> t.name()
                .equals(conv) ? new T(conv, new long[] {t.shape()[0], t.shape()[1] / 2, 3, 3}, t.values()) : t)));
        assertEquals(conv, g.tensor(), "a grouped (ResNeXt) convolution is refused");
    }

    @Test
    void backbonePartsOfAnotherArchitectureAreRefused() throws IOException {
        String se = "model.backbone.conv_encoder.model.layer1.0.se.fc1.weight";
        CheckpointException e = refused(copy(DetrFixtures.TIMM, "se",
                l -> l.add(new T(se, new long[] {2, 16, 1, 1}, new float[32]))));
        assertEquals(se, e.tensor());
        assertTrue(e.getMessage().contains("plain Bottleneck ResNet"), e.getMessage());
    }

    @Test
    void unsupportedConfigIsRefusedBeforeAnyTensorIsRead() throws IOException {
        Path dir = copy(DetrFixtures.TIMM, "dilation", l -> { });
        ObjectNode c = (ObjectNode) new ObjectMapper().readTree(dir.resolve("config.json").toFile());
        c.put("dilation", true);
        new ObjectMapper().writeValue(dir.resolve("config.json").toFile(), c);
        CheckpointException e = refused(dir);
        assertEquals(dir.resolve("config.json"), e.file());
        c.put("dilation", false).put("position_embedding_type", "learned");
        new ObjectMapper().writeValue(dir.resolve("config.json").toFile(), c);
        assertTrue(refused(dir).getMessage().contains("learned"));
        c.put("position_embedding_type", "sine").put("backbone", "resnet18");
        new ObjectMapper().writeValue(dir.resolve("config.json").toFile(), c);
        assertTrue(refused(dir).getMessage().contains("basic"));
        c.put("backbone", "resnet50");
        new ObjectMapper().writeValue(dir.resolve("config.json").toFile(), c);
        CheckpointException depth = refused(dir);
        assertTrue(depth.getMessage().contains("missing"), "resnet50 needs 3 blocks in layer1: " + depth.getMessage());
        Files.delete(dir.resolve("preprocessor_config.json"));
        assertEquals(dir.resolve("preprocessor_config.json"), refused(dir).file());
    }

    @Test
    void convertedGraphsAreCachedAndReused() throws IOException {
        Path cache = tmp.resolve("cache");
        DetrOptions options = DetrOptions.defaults(DetrFixtures.RESNET).withCacheDir(cache).withThreads(1);
        Path dir;
        try (DetrEngine first = DetrEngine.load(options)) {
            assertFalse(first.graphs().reused());
            dir = first.graphs().dir();
            assertTrue(Files.isRegularFile(dir.resolve("weights.bin")));
        }
        try (DetrEngine second = DetrEngine.load(options)) {
            assertTrue(second.graphs().reused());
            assertEquals(dir, second.graphs().dir());
        }
        try (Stream<Path> s = Files.list(cache.resolve("graphs"))) {
            assertEquals(List.of(dir), s.toList(), "one directory, no temporary ones");
        }
        // A changed config.json is another model: converted again.
        Path copy = copy(DetrFixtures.RESNET, "renamed", l -> { });
        ObjectNode c = (ObjectNode) new ObjectMapper().readTree(copy.resolve("config.json").toFile());
        c.putObject("id2label").put("0", "a").put("1", "b").put("2", "c").put("3", "d").put("4", "e").put("5", "f");
        new ObjectMapper().writeValue(copy.resolve("config.json").toFile(), c);
        try (DetrEngine third = DetrEngine.load(options.withCheckpoint(copy))) {
            assertFalse(third.graphs().reused());
            assertEquals("f", third.info().labels().get(5));
        }
    }

    @Test
    void aLoadThatFailsHalfwayClosesTheSessionsItOpened() {
        List<OrtSession> opened = new ArrayList<>();
        AtomicInteger calls = new AtomicInteger();
        DetrExecutor.SessionOpener failing = (env, graph, opts) -> {
            if (calls.incrementAndGet() == 5) throw new IllegalStateException("injected failure opening " + graph);
            OrtSession s = DetrExecutor.DEFAULT_OPENER.open(env, graph, opts);
            opened.add(s);
            return s;
        };
        DetrOptions options = DetrOptions.defaults(DetrFixtures.TIMM).withCacheDir(tmp.resolve("cache"))
                .withThreads(1);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> DetrEngine.load(options, failing));
        assertTrue(e.getMessage().contains("injected failure"), e.getMessage());
        assertEquals(4, opened.size());
        for (OrtSession s : opened) {
            assertThrows(IllegalStateException.class, s::getInputInfo, "session left open");
        }
    }

    @Test
    void noNativeTensorIsLeftOpenAndCloseIsIdempotent() {
        DetrEngine engine = DetrEngine.load(DetrOptions.defaults(DetrFixtures.RESNET).withCacheDir(tmp.resolve("c"))
                .withThreads(1).withMaxFramesPerStep(2));
        DetrBatch batch = engine.newBatch();
        batch.add(DetrFixtures.hfFrame(engine.preprocessor(), DetrFixtures.golden(DetrFixtures.RESNET).get("cases")
                .get(0)));
        engine.detect(batch);
        assertEquals(0, engine.openNativeTensors());
        engine.close();
        engine.close();
        assertEquals(0, engine.openNativeTensors());
        assertThrows(IllegalStateException.class, () -> engine.detect(batch));
    }
}
