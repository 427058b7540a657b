package dev.tessera.engine.text.convert;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.checkpoint.SafeTensorsWriter;
import dev.tessera.engine.text.model.ModelConfig;
import dev.tessera.engine.text.quant.WeightQuantization;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static dev.tessera.engine.text.convert.BadCheckpointTest.assertNames;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A bad GPTQ/AWQ checkpoint fails at load, naming the file and the tensor (or {@code config.json} and the field):
 * unsupported settings are refused by the config reader, wrong shapes and dtypes when the converter is constructed
 * (headers only), a {@code g_idx} that cannot load exactly while the graphs are written.
 */
class BadPreQuantizedCheckpointTest {
    static final Path FIXTURES = BadCheckpointTest.FIXTURES;

    @TempDir
    Path tmp;
    @TempDir
    Path cache;

    static void validate(Path dir) {
        ModelConfig config = ModelConfig.load(dir);
        try (Checkpoint ck = Checkpoint.open(dir)) {
            new SegmentConverter(ck, config);
        }
    }

    Path copy(String fixture) throws IOException {
        Path dst = tmp.resolve(fixture);
        Files.createDirectories(dst);
        try (Stream<Path> files = Files.list(FIXTURES.resolve(fixture))) {
            for (Path f : files.toList()) Files.copy(f, dst.resolve(f.getFileName()));
        }
        return dst;
    }

    static void editConfig(Path dir, String from, String to) throws IOException {
        Path cfg = dir.resolve("config.json");
        String s = Files.readString(cfg);
        assertTrue(s.contains(from), from);
        Files.writeString(cfg, s.replace(from, to));
    }

    static byte[] ints(int[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(v);
        return b.array();
    }

    @Test
    void fixturesAreValid() {
        for (String f : new String[] {"gptq-desc-act", "gptq-sym", "awq-gemm"}) {
            assertDoesNotThrow(() -> validate(FIXTURES.resolve(f)), f);
        }
    }

    @Test
    void unsupportedBitsAreRefusedNamingTheField() throws IOException {
        Path dir = copy("gptq-sym");
        editConfig(dir, "\"bits\": 4", "\"bits\": 3");
        CheckpointException e = assertThrows(CheckpointException.class, () -> validate(dir));
        assertNames(e, "config.json", "quantization_config.bits 3");
    }

    @Test
    void awqAtEightBitsIsRefused() throws IOException {
        Path dir = copy("awq-gemm");
        editConfig(dir, "\"bits\": 4", "\"bits\": 8");
        CheckpointException e = assertThrows(CheckpointException.class, () -> validate(dir));
        assertNames(e, "config.json", "quantization_config.bits 8");
    }

    @Test
    void otherPackingsAreRefusedNamingTheField() throws IOException {
        Path dir = copy("gptq-sym");
        editConfig(dir, "\"checkpoint_format\": \"gptq\"", "\"checkpoint_format\": \"marlin\"");
        CheckpointException e = assertThrows(CheckpointException.class, () -> validate(dir));
        assertNames(e, "config.json", "quantization_config.checkpoint_format 'marlin'");
    }

    @Test
    void groupSizeWithNoExactBlockIsRefused() throws IOException {
        Path dir = copy("gptq-sym");
        editConfig(dir, "\"group_size\": 64", "\"group_size\": 48");
        CheckpointException e = assertThrows(CheckpointException.class, () -> validate(dir));
        assertNames(e, "config.json", "quantization_config.group_size 48");
    }

    @Test
    void wrongQweightShapeNamesFileAndTensor() throws IOException {
        Path dir = copy("gptq-sym");
        Path st = dir.resolve("model.safetensors");
        String name = "model.layers.1.self_attn.o_proj.qweight";
        new SafeTensorsWriter().copyFrom(st, name).raw(name, "I32", ints(new int[8 * 32]), 8, 32).write(st);
        CheckpointException e = assertThrows(CheckpointException.class, () -> validate(dir));
        assertNames(e, "model.safetensors", name);
        assertTrue(e.getMessage().contains("wrong shape [8, 32], expected [8, 64]"), e.getMessage());
    }

    @Test
    void wrongQzerosDtypeNamesFileAndTensor() throws IOException {
        Path dir = copy("awq-gemm");
        Path st = dir.resolve("model.safetensors");
        String name = "model.layers.0.mlp.down_proj.qzeros";
        // [groups = 192 / 64, out / 8 = 8], as float instead of int32
        new SafeTensorsWriter().copyFrom(st, name).f32(name, new float[3 * 8], 3, 8).write(st);
        CheckpointException e = assertThrows(CheckpointException.class, () -> validate(dir));
        assertNames(e, "model.safetensors", name);
        assertTrue(e.getMessage().contains("expected I32"), e.getMessage());
    }

    @Test
    void missingScalesNameFileAndTensor() throws IOException {
        Path dir = copy("awq-gemm");
        Path st = dir.resolve("model.safetensors");
        String name = "model.layers.1.mlp.up_proj.scales";
        new SafeTensorsWriter().copyFrom(st, name).write(st);
        CheckpointException e = assertThrows(CheckpointException.class, () -> validate(dir));
        assertNames(e, "model.safetensors", name);
    }

    @Test
    void gIdxWhoseGroupsStraddleBlocksIsRefusedNamingTheTensor() throws IOException {
        Path dir = copy("gptq-desc-act");
        Path st = dir.resolve("model.safetensors");
        String name = "model.layers.0.self_attn.o_proj.g_idx";
        // Group 32: 64 inputs in groups of 32. Here group 0 gets 33 inputs, so MatMulNBits' block 1 would hold one
        // input of group 0 and 31 of group 1, and no one scale per block is exact.
        int[] g = new int[64];
        for (int i = 33; i < 64; i++) g[i] = 1;
        new SafeTensorsWriter().copyFrom(st, name).raw(name, "I32", ints(g), 64).write(st);
        ModelConfig config = ModelConfig.load(dir);
        try (Checkpoint ck = Checkpoint.open(dir)) {
            SegmentConverter c = new SegmentConverter(ck, config);
            CheckpointException e = assertThrows(CheckpointException.class, () -> c.convert(cache));
            assertNames(e, "model.safetensors", name);
            assertTrue(e.getMessage().contains("group"), e.getMessage());
        }
    }

    @Test
    void gIdxOutsideTheGroupsIsRefusedNamingTheTensor() throws IOException {
        Path dir = copy("gptq-sym");
        Path st = dir.resolve("model.safetensors");
        String name = "model.layers.1.mlp.gate_proj.g_idx";
        int[] g = new int[64];
        g[5] = 1; // group 64 over 64 inputs: only group 0 exists
        new SafeTensorsWriter().copyFrom(st, name).raw(name, "I32", ints(g), 64).write(st);
        ModelConfig config = ModelConfig.load(dir);
        try (Checkpoint ck = Checkpoint.open(dir)) {
            SegmentConverter c = new SegmentConverter(ck, config);
            CheckpointException e = assertThrows(CheckpointException.class, () -> c.convert(cache));
            assertNames(e, "model.safetensors", name);
            assertTrue(e.getMessage().contains("g_idx[5] = 1"), e.getMessage());
        }
    }

    @Test
    void gIdxIsRequiredWithActOrderOnly() throws IOException {
        Path withAct = copy("gptq-desc-act");
        Path st = withAct.resolve("model.safetensors");
        String name = "model.layers.1.mlp.down_proj.g_idx";
        new SafeTensorsWriter().copyFrom(st, name).write(st);
        CheckpointException e = assertThrows(CheckpointException.class, () -> validate(withAct));
        assertNames(e, "model.safetensors", name);

        // Without act-order the groups are i / group_size, which is what gptq-sym's g_idx says: the same graphs.
        Path sym = copy("gptq-sym");
        Path symSt = sym.resolve("model.safetensors");
        new SafeTensorsWriter().copyFrom(symSt, "model.layers.0.self_attn.q_proj.g_idx").write(symSt);
        ModelConfig config = ModelConfig.load(sym);
        try (Checkpoint ck = Checkpoint.open(sym); Checkpoint ref = Checkpoint.open(FIXTURES.resolve("gptq-sym"))) {
            Path a = new SegmentConverter(ck, config).convert(cache.resolve("a")).dir();
            Path b = new SegmentConverter(ref, config).convert(cache.resolve("b")).dir();
            assertArrayEquals(Files.readAllBytes(b.resolve(WeightsFile.NAME)),
                    Files.readAllBytes(a.resolve(WeightsFile.NAME)));
        }
    }

    @Test
    void fusedProjectionsMustBeAllQuantizedOrAllNot() throws IOException {
        Path dir = copy("gptq-sym");
        Path st = dir.resolve("model.safetensors");
        String k = "model.layers.0.self_attn.k_proj";
        new SafeTensorsWriter().copyFrom(st, k + ".qweight", k + ".qzeros", k + ".scales", k + ".g_idx")
                .f32(k + ".weight", new float[32 * 64], 32, 64).write(st);
        ModelConfig config = ModelConfig.load(dir);
        try (Checkpoint ck = Checkpoint.open(dir)) {
            SegmentConverter c = new SegmentConverter(ck, config);
            CheckpointException e = assertThrows(CheckpointException.class, () -> c.convert(cache));
            assertNames(e, "model.safetensors", k);
            assertTrue(e.getMessage().contains("all quantized or all unquantized"), e.getMessage());
        }
    }

    @Test
    void quantizingAPreQuantizedCheckpointAgainIsRefused() {
        Path dir = FIXTURES.resolve("gptq-desc-act");
        ModelConfig config = ModelConfig.load(dir);
        try (Checkpoint ck = Checkpoint.open(dir)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new SegmentConverter(ck, config, false, WeightQuantization.parse("int4")));
            assertTrue(e.getMessage().startsWith("quantization:"), e.getMessage());
        }
    }
}
