package dev.tessera.gateway.openai;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Typed reads of a request's JSON fields. A field that is absent or {@code null} is unset; one of the wrong type
 * is a 400 naming it. Ranges are not checked here: the serving core checks them and names the field.
 */
final class JsonFields {
    private final JsonObject json;
    private final String prefix;

    /** @param prefix prepended to field names in errors, e.g. {@code messages[2].} */
    JsonFields(JsonObject json, String prefix) {
        this.json = json;
        this.prefix = prefix;
    }

    JsonFields(JsonObject json) {
        this(json, "");
    }

    boolean has(String name) {
        return json.getValue(name) != null;
    }

    @Nullable Object raw(String name) {
        return json.getValue(name);
    }

    @Nullable Float optFloat(String name) {
        Object v = json.getValue(name);
        if (v == null) return null;
        if (!(v instanceof Number n)) throw wrongType(name, "a number");
        return n.floatValue();
    }

    /** An integer; a fractional number or one beyond 64 bits is refused. */
    @Nullable Long optLong(String name) {
        Object v = json.getValue(name);
        if (v == null) return null;
        if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
            return ((Number) v).longValue();
        }
        if (v instanceof BigInteger big) {
            if (big.bitLength() < 64) return big.longValue();
            throw ApiError.invalid(prefix + name, "integer " + big + " is out of range").exception();
        }
        if (v instanceof Double || v instanceof Float || v instanceof BigDecimal) {
            double d = ((Number) v).doubleValue();
            if (d == Math.rint(d) && Math.abs(d) < 0x1p53) return (long) d;
        }
        throw wrongType(name, "an integer");
    }

    /** An integer that fits an {@code int}. */
    @Nullable Integer optInt(String name) {
        Long v = optLong(name);
        if (v == null) return null;
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw ApiError.invalid(prefix + name, "integer " + v + " is out of range").exception();
        }
        return v.intValue();
    }

    @Nullable Boolean optBool(String name) {
        Object v = json.getValue(name);
        if (v == null) return null;
        if (!(v instanceof Boolean b)) throw wrongType(name, "a boolean");
        return b;
    }

    @Nullable String optString(String name) {
        Object v = json.getValue(name);
        if (v == null) return null;
        if (!(v instanceof String s)) throw wrongType(name, "a string");
        return s;
    }

    @Nullable JsonObject optObject(String name) {
        Object v = json.getValue(name);
        if (v == null) return null;
        if (!(v instanceof JsonObject o)) throw wrongType(name, "an object");
        return o;
    }

    @Nullable JsonArray optArray(String name) {
        Object v = json.getValue(name);
        if (v == null) return null;
        if (!(v instanceof JsonArray a)) throw wrongType(name, "an array");
        return a;
    }

    /** A string or an array of strings (as {@code stop}); unset is empty. */
    List<String> stringOrStrings(String name) {
        Object v = json.getValue(name);
        List<String> out = new ArrayList<>();
        if (v == null) return out;
        if (v instanceof String s) {
            out.add(s);
            return out;
        }
        if (!(v instanceof JsonArray a)) throw wrongType(name, "a string or an array of strings");
        for (int i = 0; i < a.size(); i++) {
            if (!(a.getValue(i) instanceof String s)) {
                throw ApiError.invalid(prefix + name, "item " + i + " must be a string").exception();
            }
            out.add(s);
        }
        return out;
    }

    /** 400 for a field this server does not support with the given value. */
    ApiException unsupported(String name, String why) {
        return ApiError.invalid(prefix + name, why).exception();
    }

    private ApiException wrongType(String name, String what) {
        return ApiError.invalid(prefix + name, "must be " + what + ", got " + describe(json.getValue(name)))
                .exception();
    }

    private static String describe(@Nullable Object v) {
        if (v instanceof String) return "a string";
        if (v instanceof Boolean) return "a boolean";
        if (v instanceof Number) return "a number";
        if (v instanceof JsonArray) return "an array";
        if (v instanceof JsonObject) return "an object";
        return "null";
    }
}
