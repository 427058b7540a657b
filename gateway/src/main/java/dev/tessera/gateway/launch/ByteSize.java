package dev.tessera.gateway.launch;

import java.util.Locale;
import picocli.CommandLine;

/** Parses sizes like {@code 512MiB}, {@code 2GiB}, {@code 1g}, {@code 65536} into bytes. */
public final class ByteSize implements CommandLine.ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
        return parse(value);
    }

    /** A size that may also be {@code 0} (for limits where 0 means none). */
    public static final class OrZero implements CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            return value.trim().equals("0") ? 0L : parse(value);
        }
    }

    public static long parse(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT).replace("ib", "").replace("b", "");
        long unit = 1;
        if (!v.isEmpty()) {
            switch (v.charAt(v.length() - 1)) {
                case 'k' -> unit = 1L << 10;
                case 'm' -> unit = 1L << 20;
                case 'g' -> unit = 1L << 30;
                case 't' -> unit = 1L << 40;
                default -> unit = 1;
            }
        }
        String digits = unit == 1 ? v : v.substring(0, v.length() - 1);
        try {
            double n = Double.parseDouble(digits.trim());
            if (n <= 0) {
                throw new CommandLine.TypeConversionException("size must be > 0: '" + value + "'");
            }
            return (long) (n * unit);
        } catch (NumberFormatException e) {
            throw new CommandLine.TypeConversionException(
                    "not a size: '" + value + "' (examples: 512MiB, 2GiB, 1048576)");
        }
    }
}
