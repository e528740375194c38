// tests/test_clients.py runs this with the Debian PostgreSQL JDBC driver against fedq serve and PostgreSQL:
// java -cp /usr/share/java/postgresql.jar FedqJdbc.java URL USER PASSWORD SCHEMA TABLE
import java.sql.*;

public class FedqJdbc {
    public static void main(String[] args) throws Exception {
        String schema = args[3], table = args[4];
        try (Connection con = DriverManager.getConnection(args[0], args[1], args[2])) {
            DatabaseMetaData meta = con.getMetaData();
            try (ResultSet rs = meta.getTables(null, schema, "%", new String[]{"TABLE"})) {
                while (rs.next()) System.out.println("table " + rs.getString("TABLE_SCHEM") + "|" + rs.getString("TABLE_NAME"));
            }
            try (ResultSet rs = meta.getColumns(null, schema, table, "%")) {
                while (rs.next()) {
                    System.out.println("column " + rs.getString("COLUMN_NAME") + "|" + rs.getString("TYPE_NAME") + "|"
                                       + rs.getInt("DATA_TYPE"));
                }
            }
            try (ResultSet rs = meta.getImportedKeys(null, schema, table)) {
                int n = 0;
                while (rs.next()) n++;
                System.out.println("importedkeys " + n);
            }
            try (ResultSet rs = meta.getTypeInfo()) {
                int n = 0;
                while (rs.next()) n++;
                System.out.println("typeinfo " + n);
            }
            String name = "\"" + schema.replace("\"", "\"\"") + "\"." + table;
            try (PreparedStatement ps = con.prepareStatement(
                    "SELECT id, amount, placed, note FROM " + name + " WHERE placed >= ? AND id < ? ORDER BY id")) {
                ps.setDate(1, Date.valueOf("2024-03-01"));
                ps.setInt(2, 200);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        System.out.println("row " + rs.getInt(1) + "|" + rs.getBigDecimal(2) + "|" + rs.getDate(3) + "|"
                                           + rs.getString(4));
                    }
                }
            }
        }
    }
}
