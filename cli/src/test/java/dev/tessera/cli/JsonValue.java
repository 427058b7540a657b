package dev.tessera.cli;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * A strict reader of one JSON document, for checking what the commands print (the module declares no JSON library:
 * its runtime gets Jackson through the engine, and a test-scoped declaration would take it out of the shaded jar).
 * Objects keep their key order; numbers are doubles. Throws {@link IllegalArgumentException} on anything that is not
 * JSON, trailing text included.
 */
final class JsonValue implements Iterable<JsonValue> {
    private final @Nullable Object value; // Map<String, JsonValue>, List<JsonValue>, String, Double, Boolean, null

    private JsonValue(@Nullable Object value) {
        this.value = value;
    }

    static JsonValue parse(String text) {
        Reader r = new Reader(text);
        JsonValue v = r.value();
        r.skipSpace();
        if (r.pos != text.length()) throw r.error("trailing text");
        return v;
    }

    /** The member {@code key} of an object. */
    JsonValue get(String key) {
        JsonValue v = object().get(key);
        if (v == null) throw new IllegalArgumentException("no member '" + key + "' in " + this);
        return v;
    }

    boolean has(String key) {
        return object().containsKey(key);
    }

    String asText() {
        if (value instanceof String s) return s;
        throw new IllegalArgumentException("not a string: " + this);
    }

    double asDouble() {
        if (value instanceof Double d) return d;
        throw new IllegalArgumentException("not a number: " + this);
    }

    long asLong() {
        double d = asDouble();
        if (d != Math.rint(d)) throw new IllegalArgumentException("not an integer: " + this);
        return (long) d;
    }

    int asInt() {
        return Math.toIntExact(asLong());
    }

    /** Elements of an array. */
    int size() {
        return array().size();
    }

    boolean isEmpty() {
        return size() == 0;
    }

    @Override
    public Iterator<JsonValue> iterator() {
        return array().iterator();
    }

    @SuppressWarnings("unchecked")
    private Map<String, JsonValue> object() {
        if (value instanceof Map<?, ?> m) return (Map<String, JsonValue>) m;
        throw new IllegalArgumentException("not an object: " + this);
    }

    @SuppressWarnings("unchecked")
    private List<JsonValue> array() {
        if (value instanceof List<?> l) return (List<JsonValue>) l;
        throw new IllegalArgumentException("not an array: " + this);
    }

    @Override
    public String toString() {
        if (value instanceof String s) return '"' + s + '"';
        if (value instanceof Map<?, ?> m) {
            StringBuilder sb = new StringBuilder("{");
            m.forEach((k, v) -> sb.append(sb.length() > 1 ? "," : "").append('"').append(k).append("\":").append(v));
            return sb.append('}').toString();
        }
        return String.valueOf(value);
    }

    private static final class Reader {
        private final String s;
        private int pos;

        Reader(String s) {
            this.s = s;
        }

        JsonValue value() {
            skipSpace();
            if (pos >= s.length()) throw error("unexpected end");
            char c = s.charAt(pos);
            if (c == '{') return new JsonValue(object());
            if (c == '[') return new JsonValue(array());
            if (c == '"') return new JsonValue(string());
            if (s.startsWith("true", pos)) return literal("true", Boolean.TRUE);
            if (s.startsWith("false", pos)) return literal("false", Boolean.FALSE);
            if (s.startsWith("null", pos)) return literal("null", null);
            return new JsonValue(number());
        }

        private Map<String, JsonValue> object() {
            Map<String, JsonValue> m = new LinkedHashMap<>();
            pos++;
            skipSpace();
            if (peek() == '}') {
                pos++;
                return m;
            }
            while (true) {
                skipSpace();
                if (peek() != '"') throw error("expected a key");
                String key = string();
                skipSpace();
                expect(':');
                if (m.put(key, value()) != null) throw error("duplicate key '" + key + "'");
                skipSpace();
                if (peek() == ',') {
                    pos++;
                } else {
                    expect('}');
                    return m;
                }
            }
        }

        private List<JsonValue> array() {
            List<JsonValue> l = new ArrayList<>();
            pos++;
            skipSpace();
            if (peek() == ']') {
                pos++;
                return l;
            }
            while (true) {
                l.add(value());
                skipSpace();
                if (peek() == ',') {
                    pos++;
                } else {
                    expect(']');
                    return l;
                }
            }
        }

        private String string() {
            StringBuilder sb = new StringBuilder();
            pos++;
            while (true) {
                if (pos >= s.length()) throw error("unterminated string");
                char c = s.charAt(pos++);
                if (c == '"') return sb.toString();
                if (c < 0x20) throw error("control character in a string");
                if (c != '\\') {
                    sb.append(c);
                    continue;
                }
                char e = s.charAt(pos++);
                switch (e) {
                    case '"', '\\', '/' -> sb.append(e);
                    case 'b' -> sb.append('\b');
                    case 'f' -> sb.append('\f');
                    case 'n' -> sb.append('\n');
                    case 'r' -> sb.append('\r');
                    case 't' -> sb.append('\t');
                    case 'u' -> {
                        sb.append((char) Integer.parseInt(s.substring(pos, pos + 4), 16));
                        pos += 4;
                    }
                    default -> throw error("bad escape \\" + e);
                }
            }
        }

        private Double number() {
            int start = pos;
            while (pos < s.length() && "+-0123456789.eE".indexOf(s.charAt(pos)) >= 0) pos++;
            String n = s.substring(start, pos);
            if (!n.matches("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?")) throw error("not a number '" + n + "'");
            return Double.parseDouble(n);
        }

        private JsonValue literal(String word, @Nullable Object v) {
            pos += word.length();
            return new JsonValue(v);
        }

        private char peek() {
            if (pos >= s.length()) throw error("unexpected end");
            return s.charAt(pos);
        }

        private void expect(char c) {
            if (peek() != c) throw error("expected '" + c + "'");
            pos++;
        }

        void skipSpace() {
            while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) pos++;
        }

        IllegalArgumentException error(String what) {
            return new IllegalArgumentException(what + " at " + pos + " of: " + s);
        }
    }
}
