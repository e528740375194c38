// What a JDBC program does against fedq serve (tests/test_jdbc.py): run with
// java -cp postgresql.jar Probe.java URL USER PASSWORD. Prints one "key: value" line per check.
import java.math.BigDecimal;
import java.sql.*;

public class Probe {
    public static void main(String[] args) throws Exception {
        try (Connection con = DriverManager.getConnection(args[0], args[1], args[2])) {
            DatabaseMetaData meta = con.getMetaData();
            System.out.println("product: " + meta.getDatabaseProductName());
            try (PreparedStatement st = con.prepareStatement(
                    "SELECT o.id, c.name, o.amount, o.ordered_on FROM pg.fedq_jdbc.orders o JOIN crm.customers c "
                    + "ON c.id = o.customer_id WHERE o.ordered_on >= ? AND c.country = ? AND o.id > ? ORDER BY o.id")) {
                st.setDate(1, Date.valueOf("2026-01-02"));
                st.setString(2, "NL");
                st.setInt(3, 0);
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        BigDecimal amount = rs.getBigDecimal(3);
                        System.out.println("row: " + rs.getInt(1) + "|" + rs.getString(2) + "|" + amount.toPlainString() + "|" + rs.getDate(4));
                    }
                }
            }
            try (ResultSet rs = meta.getTables(null, null, "%", new String[] {"TABLE"})) {
                while (rs.next()) System.out.println("table: " + rs.getString("TABLE_SCHEM") + "." + rs.getString("TABLE_NAME"));
            }
            try (ResultSet rs = meta.getColumns(null, "crm", "customers", "%")) {
                while (rs.next()) System.out.println("column: " + rs.getString("COLUMN_NAME") + " " + rs.getString("TYPE_NAME"));
            }
            try (ResultSet rs = meta.getPrimaryKeys(null, "crm", "customers")) {
                int n = 0; while (rs.next()) n++;
                System.out.println("primary keys: " + n);
            }
            try (ResultSet rs = meta.getImportedKeys(null, "crm", "customers")) {
                int n = 0; while (rs.next()) n++;
                System.out.println("imported keys: " + n);
            }
            try (ResultSet rs = meta.getTypeInfo()) {
                int n = 0; boolean numeric = false;
                while (rs.next()) { n++; numeric |= "numeric".equals(rs.getString("TYPE_NAME")); }
                System.out.println("type info: " + (n > 10) + " numeric " + numeric);
            }
            try (Statement st = con.createStatement()) {
                try {
                    st.executeQuery("SELECT * FROM crm.no_such_table");
                } catch (SQLException e) {
                    System.out.println("error: " + e.getSQLState());
                }
                try (ResultSet rs = st.executeQuery("SELECT count(*) FROM crm.customers")) {
                    rs.next();
                    System.out.println("after error: " + rs.getLong(1));
                }
            }
        }
    }
}
