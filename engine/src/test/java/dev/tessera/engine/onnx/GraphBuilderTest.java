package dev.tessera.engine.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.tessera.engine.onnx.GraphBuilder.ElementType;
import dev.tessera.engine.onnx.proto.ModelProto;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Models from {@link GraphBuilder} load and run in ONNX Runtime, with inline and external initializers. */
class GraphBuilderTest {
    @TempDir
    Path dir;

    /** y = relu(x W^T + b) for x [T, 3] (T dynamic), W [2, 3]. */
    static GraphBuilder linearRelu(boolean external, Path dataDir) throws IOException {
        float[] w = {1, 2, 3, -1, -2, -3};
        GraphBuilder g = new GraphBuilder("linear").opset("", 17);
        g.input("x", ElementType.FLOAT, "T", 3);
        if (external) {
            ByteBuffer b = ByteBuffer.allocate(128 + w.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            b.position(128);
            for (float v : w) b.putFloat(v);
            Files.write(dataDir.resolve("w.bin"), b.array());
            g.externalInitializer("w", ElementType.FLOAT, new long[] {2, 3}, "w.bin", 128);
        } else {
            g.initializer("w", w, 2, 3);
        }
        g.initializer("b", new float[] {0.5f, 10f}, 2);
        String y = g.op("Gemm", "x", "w", "b").attr("transB", 1L).out1();
        g.output(g.op("Relu", y).out1(), "y", ElementType.FLOAT, "T", 2);
        return g;
    }

    @Test
    void inlineModelRunsWithDynamicRows() throws Exception {
        byte[] bytes = linearRelu(false, dir).toBytes();
        ModelProto parsed = ModelProto.parseFrom(bytes);
        assertEquals(17, parsed.getOpsetImport(0).getVersion());
        assertEquals("T", parsed.getGraph().getInput(0).getType().getTensorType().getShape().getDim(0).getDimParam());
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession s = env.createSession(bytes, new OrtSession.SessionOptions())) {
            assertArrayEquals(new float[] {14.5f, 0f, 0.5f, 10f}, run(env, s, new float[] {1, 2, 3, 0, 0, 0}, 2));
            assertArrayEquals(new float[] {0f, 11f}, run(env, s, new float[] {-1, 0, 0}, 1));
        }
    }

    @Test
    void externalInitializerIsReadRelativeToTheModelFile() throws Exception {
        Path model = dir.resolve("m.onnx");
        Files.write(model, linearRelu(true, dir).toBytes());
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession s = env.createSession(model.toString(), new OrtSession.SessionOptions())) {
            assertArrayEquals(new float[] {14.5f, 0f}, run(env, s, new float[] {1, 2, 3}, 1));
        }
    }

    private static float[] run(OrtEnvironment env, OrtSession s, float[] x, int rows) throws OrtException {
        try (OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {rows, 3});
             OrtSession.Result r = s.run(Map.of("x", in))) {
            return ((OnnxTensor) r.get(0)).getFloatBuffer().array();
        }
    }
}
