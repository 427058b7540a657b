package dev.tessera.engine.onnx;

import com.google.protobuf.ByteString;
import dev.tessera.engine.onnx.proto.AttributeProto;
import dev.tessera.engine.onnx.proto.GraphProto;
import dev.tessera.engine.onnx.proto.ModelProto;
import dev.tessera.engine.onnx.proto.NodeProto;
import dev.tessera.engine.onnx.proto.OperatorSetIdProto;
import dev.tessera.engine.onnx.proto.StringStringEntryProto;
import dev.tessera.engine.onnx.proto.TensorProto;
import dev.tessera.engine.onnx.proto.TensorShapeProto;
import dev.tessera.engine.onnx.proto.TypeProto;
import dev.tessera.engine.onnx.proto.ValueInfoProto;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A small fluent builder for ONNX models: typed inputs and outputs (with named dynamic dimensions), initializers
 * (inline or in an external data file), nodes with attributes, and opset imports.
 *
 * <pre>{@code
 * GraphBuilder g = new GraphBuilder("mlp").opset("", 17);
 * g.input("x", ElementType.FLOAT, "T", 64);
 * g.initializer("w", weights, 32, 64);
 * String y = g.op("Gemm", "x", "w").attr("transB", 1).out1();
 * g.output(y, "y", ElementType.FLOAT, "T", 32);
 * byte[] model = g.toBytes();
 * }</pre>
 *
 * <p>Value names produced by {@link #op} are unique within the graph ({@code opType_N}). Not thread-safe.
 */
public final class GraphBuilder {
    /** IR version 8 (ONNX 1.10+), which every ONNX Runtime 1.1x+ reads. */
    public static final long IR_VERSION = 8;

    private final GraphProto.Builder graph = GraphProto.newBuilder();
    private final Map<String, Long> opsets = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private int counter;

    public GraphBuilder(String name) {
        graph.setName(Objects.requireNonNull(name, "name"));
    }

    /** Imports {@code domain} ("" for the default ONNX domain, "com.microsoft" for ORT contrib ops). */
    public GraphBuilder opset(String domain, int version) {
        opsets.put(Objects.requireNonNull(domain, "domain"), (long) version);
        return this;
    }

    public GraphBuilder metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /**
     * Declares a graph input. Each dimension is an {@link Integer}/{@link Long} (fixed) or a {@link String}
     * (a named dynamic dimension such as {@code "T"}).
     */
    public GraphBuilder input(String name, ElementType type, Object... dims) {
        graph.addInput(valueInfo(name, type, dims));
        return this;
    }

    /** Declares graph output {@code name}. */
    public GraphBuilder output(String name, ElementType type, Object... dims) {
        graph.addOutput(valueInfo(name, type, dims));
        return this;
    }

    /** Exposes value {@code value} as graph output {@code name} (an Identity node when the names differ). */
    public GraphBuilder output(String value, String name, ElementType type, Object... dims) {
        if (!value.equals(name)) {
            node("Identity").in(value).out(name).add();
        }
        return output(name, type, dims);
    }

    /** A float initializer stored inline. {@code data} holds exactly the product of {@code dims} values. */
    public GraphBuilder initializer(String name, float[] data, long... dims) {
        return initializer(name, FloatBuffer.wrap(data), dims);
    }

    /** A float initializer stored inline, read from {@code data}'s position to its limit. */
    public GraphBuilder initializer(String name, FloatBuffer data, long... dims) {
        long n = elements(dims);
        if (data.remaining() != n) {
            throw new IllegalArgumentException("initializer " + name + ": " + data.remaining()
                    + " floats for " + n + " elements");
        }
        ByteBuffer bytes = ByteBuffer.allocate(Math.toIntExact(n * Float.BYTES)).order(ByteOrder.LITTLE_ENDIAN);
        bytes.asFloatBuffer().put(data.duplicate());
        graph.addInitializer(tensor(name, ElementType.FLOAT, dims).setRawData(ByteString.copyFrom(bytes.array())));
        return this;
    }

    /** A uint8 initializer stored inline (packed quantized codes, zero points). */
    public GraphBuilder initializer(String name, byte[] data, long... dims) {
        if (data.length != elements(dims)) {
            throw new IllegalArgumentException("initializer " + name + ": " + data.length + " bytes for "
                    + elements(dims) + " elements");
        }
        graph.addInitializer(tensor(name, ElementType.UINT8, dims).setRawData(ByteString.copyFrom(data)));
        return this;
    }

    /** An int64 initializer stored inline. */
    public GraphBuilder initializer(String name, long[] data, long... dims) {
        if (data.length != elements(dims)) {
            throw new IllegalArgumentException("initializer " + name + ": " + data.length + " values for "
                    + elements(dims) + " elements");
        }
        ByteBuffer bytes = ByteBuffer.allocate(data.length * Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        bytes.asLongBuffer().put(data);
        graph.addInitializer(tensor(name, ElementType.INT64, dims).setRawData(ByteString.copyFrom(bytes.array())));
        return this;
    }

    /**
     * An initializer whose little-endian bytes live in an external file, {@code location} relative to the model
     * file's directory, at {@code offset}.
     */
    public GraphBuilder externalInitializer(String name, ElementType type, long[] dims, String location, long offset) {
        long length = elements(dims) * type.bytes;
        graph.addInitializer(tensor(name, type, dims)
                .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(entry("location", location))
                .addExternalData(entry("offset", Long.toString(offset)))
                .addExternalData(entry("length", Long.toString(length))));
        return this;
    }

    /** Starts a node of the default domain; finish it with {@link Node#add()} or {@link Node#out1()}. */
    public Node node(String opType) {
        return new Node(opType, "");
    }

    /** Starts a node of the default domain with inputs; its outputs get fresh names unless set. */
    public Node op(String opType, String... inputs) {
        return new Node(opType, "").in(inputs);
    }

    /** A fresh value name with the given prefix. */
    public String fresh(String prefix) {
        return prefix + "_" + (counter++);
    }

    public ModelProto build() {
        ModelProto.Builder model = ModelProto.newBuilder()
                .setIrVersion(IR_VERSION)
                .setProducerName("tessera")
                .setProducerVersion("1")
                .setGraph(graph.build());
        if (opsets.isEmpty()) {
            throw new IllegalStateException("graph " + graph.getName() + " imports no opset");
        }
        opsets.forEach((d, v) -> model.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(d).setVersion(v)));
        metadata.forEach((k, v) -> model.addMetadataProps(entry(k, v)));
        return model.build();
    }

    public byte[] toBytes() {
        return build().toByteArray();
    }

    /** Element types the builder writes, with their ONNX codes and sizes. */
    public enum ElementType {
        FLOAT(TensorProto.DataType.FLOAT, 4),
        INT64(TensorProto.DataType.INT64, 8),
        INT32(TensorProto.DataType.INT32, 4),
        UINT8(TensorProto.DataType.UINT8, 1),
        FLOAT16(TensorProto.DataType.FLOAT16, 2);

        final TensorProto.DataType code;
        public final int bytes;

        ElementType(TensorProto.DataType code, int bytes) {
            this.code = code;
            this.bytes = bytes;
        }
    }

    /** A node under construction. */
    public final class Node {
        private final NodeProto.Builder node = NodeProto.newBuilder();

        private Node(String opType, String domain) {
            node.setOpType(opType).setDomain(domain).setName(fresh(opType));
        }

        public Node domain(String domain) {
            node.setDomain(domain);
            return this;
        }

        public Node in(String... names) {
            for (String n : names) node.addInput(n);
            return this;
        }

        public Node out(String... names) {
            for (String n : names) node.addOutput(n);
            return this;
        }

        public Node attr(String name, long value) {
            node.addAttribute(AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT)
                    .setI(value));
            return this;
        }

        public Node attr(String name, float value) {
            node.addAttribute(AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT)
                    .setF(value));
            return this;
        }

        public Node attr(String name, String value) {
            node.addAttribute(AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING)
                    .setS(ByteString.copyFromUtf8(value)));
            return this;
        }

        public Node attr(String name, long[] values) {
            AttributeProto.Builder a = AttributeProto.newBuilder().setName(name)
                    .setType(AttributeProto.AttributeType.INTS);
            for (long v : values) a.addInts(v);
            node.addAttribute(a);
            return this;
        }

        /** Adds the node; its outputs must have been set with {@link #out}. */
        public void add() {
            if (node.getOutputCount() == 0) throw new IllegalStateException(node.getOpType() + " has no output");
            graph.addNode(node);
        }

        /** Adds the node with one freshly named output and returns that name. */
        public String out1() {
            String name = fresh(node.getOpType().toLowerCase());
            node.addOutput(name);
            graph.addNode(node);
            return name;
        }

        /** Adds the node with {@code n} freshly named outputs and returns their names. */
        public String[] outN(int n) {
            String[] names = new String[n];
            for (int i = 0; i < n; i++) {
                names[i] = fresh(node.getOpType().toLowerCase());
                node.addOutput(names[i]);
            }
            graph.addNode(node);
            return names;
        }
    }

    private static ValueInfoProto valueInfo(String name, ElementType type, Object... dims) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (Object d : dims) {
            TensorShapeProto.Dimension.Builder dim = TensorShapeProto.Dimension.newBuilder();
            if (d instanceof String s) {
                dim.setDimParam(s);
            } else if (d instanceof Number n) {
                dim.setDimValue(n.longValue());
            } else {
                throw new IllegalArgumentException("dimension of " + name + " must be a number or a name: " + d);
            }
            shape.addDim(dim);
        }
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(type.code.getNumber()).setShape(shape))).build();
    }

    private static TensorProto.Builder tensor(String name, ElementType type, long[] dims) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(type.code.getNumber());
        for (long d : dims) t.addDims(d);
        return t;
    }

    private static StringStringEntryProto entry(String k, String v) {
        return StringStringEntryProto.newBuilder().setKey(k).setValue(v).build();
    }

    private static long elements(long[] dims) {
        long n = 1;
        for (long d : dims) {
            if (d < 0) throw new IllegalArgumentException("negative dimension");
            n = Math.multiplyExact(n, d);
        }
        return n;
    }
}
