package io.roster.faults;

/**
 * A sequential specification: what state an operation leaves, or that it cannot have returned what
 * it did from a state. States are values (equals and hashCode) so that the checker can remember them.
 */
public interface Model<S> {
  S init();

  /** The state after {@code op} from {@code state}, or null when {@code op}'s result is impossible there. */
  S step(S state, Op op);

  /**
   * One unique-key registration: at most one owner. {@code register} returns ok (the key was free)
   * or {@code taken:OWNER}; {@code unregister} removes the key if the caller owns it and is ok
   * either way; {@code read} returns the owner or "none".
   */
  Model<String> UNIQUE_KEY = new Model<>() {
    private static final String NONE = "none";

    @Override
    public String init() {
      return NONE;
    }

    @Override
    public String step(String owner, Op op) {
      switch (op.f()) {
        case "register":
          if ("ok".equals(op.out()) || op.indeterminate()) {
            return owner.equals(NONE) ? op.arg() : null;
          }
          if (op.out().startsWith("taken:")) {
            return owner.equals(op.out().substring("taken:".length())) ? owner : null;
          }
          throw new IllegalArgumentException("register returned " + op.out());
        case "unregister":
          return owner.equals(op.arg()) ? NONE : owner;
        case "read":
          return owner.equals(op.out()) ? owner : null;
        default:
          throw new IllegalArgumentException("no function " + op.f() + " in a unique key");
      }
    }
  };

  /**
   * A counter updated by compare-and-set: {@code cas} with arg "A>B" returns ok when the value was A
   * (it becomes B) or "fail:V" when it was V (unchanged); {@code read} returns the value. Starts at "0".
   */
  Model<String> CAS_COUNTER = new Model<>() {
    @Override
    public String init() {
      return "0";
    }

    @Override
    public String step(String value, Op op) {
      switch (op.f()) {
        case "cas": {
          String[] ab = op.arg().split(">", 2);
          if ("ok".equals(op.out()) || op.indeterminate()) {
            return value.equals(ab[0]) ? ab[1] : null;
          }
          if (op.out().startsWith("fail:")) {
            String seen = op.out().substring("fail:".length());
            return value.equals(seen) && !value.equals(ab[0]) ? value : null;
          }
          throw new IllegalArgumentException("cas returned " + op.out());
        }
        case "read":
          return value.equals(op.out()) ? value : null;
        default:
          throw new IllegalArgumentException("no function " + op.f() + " in a counter");
      }
    }
  };

  /**
   * One key of a duplicate registry: a sorted list of owners, with repeats (a process may register a
   * key again). {@code register} adds the caller and returns ok; {@code unregister} removes every
   * entry of the caller and is ok either way; {@code read} returns the sorted owners joined by
   * commas, or "none".
   */
  Model<String> DUPLICATE_KEY = new Model<>() {
    private static final String NONE = "none";

    @Override
    public String init() {
      return NONE;
    }

    @Override
    public String step(String owners, Op op) {
      java.util.List<String> list = owners.equals(NONE) ? new java.util.ArrayList<>()
          : new java.util.ArrayList<>(java.util.Arrays.asList(owners.split(",")));
      switch (op.f()) {
        case "register":
          if (!"ok".equals(op.out()) && !op.indeterminate()) {
            throw new IllegalArgumentException("register of a duplicate key returned " + op.out());
          }
          list.add(op.arg());
          break;
        case "unregister":
          list.removeIf(op.arg()::equals);
          break;
        case "read":
          return owners.equals(op.out()) ? owners : null;
        default:
          throw new IllegalArgumentException("no function " + op.f() + " in a duplicate key");
      }
      java.util.Collections.sort(list);
      return list.isEmpty() ? NONE : String.join(",", list);
    }
  };
}
