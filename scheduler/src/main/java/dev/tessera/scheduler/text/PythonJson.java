package dev.tessera.scheduler.text;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import java.lang.reflect.Array;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The {@code tojson} filter as Hugging Face's template environment defines it: Python's
 * {@code json.dumps(x, ensure_ascii=False)} (separators {@code ", "} and {@code ": "}, keys in insertion order,
 * non-ASCII characters as they are), with {@code indent=N} for pretty output. Jinjava's own {@code tojson} writes
 * compact JSON, which would change the prompt of any template that serializes tools or tool calls.
 */
final class PythonJson implements Filter {
    @Override
    public String getName() {
        return "tojson";
    }

    @Override
    public Object filter(@Nullable Object var, JinjavaInterpreter interpreter, String... args) {
        return dumps(var, -1);
    }

    @Override
    public Object filter(@Nullable Object var, JinjavaInterpreter interpreter, Object[] args,
                         Map<String, Object> kwargs) {
        Object indent = kwargs.get("indent");
        if (indent == null && args.length > 0) indent = args[0];
        return dumps(var, indent instanceof Number n ? n.intValue() : -1);
    }

    /** {@code json.dumps(value, ensure_ascii=False, indent=indent)}; {@code indent < 0} means none. */
    static String dumps(@Nullable Object value, int indent) {
        StringBuilder b = new StringBuilder();
        write(b, value, indent, 0);
        return b.toString();
    }

    private static void write(StringBuilder b, @Nullable Object v, int indent, int depth) {
        if (v == null) {
            b.append("null");
        } else if (v instanceof CharSequence s) {
            quote(b, s.toString());
        } else if (v instanceof Boolean bool) {
            b.append(bool ? "true" : "false");
        } else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (d == Math.rint(d) && Math.abs(d) < 1e16) b.append((long) d).append(".0");
            else b.append(d);
        } else if (v instanceof Number n) {
            b.append(n);
        } else if (v instanceof Map<?, ?> map) {
            if (map.isEmpty()) {
                b.append("{}");
                return;
            }
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : map.entrySet()) {
                separate(b, first, indent, depth + 1);
                first = false;
                quote(b, String.valueOf(e.getKey()));
                b.append(": ");
                write(b, e.getValue(), indent, depth + 1);
            }
            close(b, indent, depth);
            b.append('}');
        } else if (v instanceof Iterable<?> || v.getClass().isArray()) {
            Iterable<?> items = v instanceof Iterable<?> it ? it : arrayItems(v);
            if (!items.iterator().hasNext()) {
                b.append("[]");
                return;
            }
            b.append('[');
            boolean first = true;
            for (Object o : items) {
                separate(b, first, indent, depth + 1);
                first = false;
                write(b, o, indent, depth + 1);
            }
            close(b, indent, depth);
            b.append(']');
        } else {
            quote(b, v.toString());
        }
    }

    private static Iterable<Object> arrayItems(Object array) {
        int n = Array.getLength(array);
        java.util.List<Object> out = new java.util.ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(Array.get(array, i));
        return out;
    }

    private static void separate(StringBuilder b, boolean first, int indent, int depth) {
        if (!first) b.append(indent < 0 ? ", " : ",");
        if (indent >= 0) b.append('\n').append(" ".repeat(indent * depth));
    }

    private static void close(StringBuilder b, int indent, int depth) {
        if (indent >= 0) b.append('\n').append(" ".repeat(indent * depth));
    }

    private static void quote(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                default -> {
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                    else b.append(c);
                }
            }
        }
        b.append('"');
    }
}
