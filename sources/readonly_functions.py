"""Functions a passthrough ``query(source, sql)`` may call, one allowlist per dialect, as plain data.

Written from each server's function reference (PostgreSQL 15 "Functions and Operators", MariaDB
10.11 "Built-in Functions", SQLite "Core/Aggregate/Window/Date/Math/JSON functions", DuckDB 2.0
"Functions"). A name is listed only if calling it can neither change nor reveal anything beyond the
query's own rows and the catalog: nothing that reads or lists files, sleeps, takes locks, notifies,
changes settings, touches sequences or large objects, opens other connections (dblink,
postgres_fdw, DuckDB's scanners), touches the WAL or replication, resets statistics, signals
backends, assigns transaction ids, sets user variables or runs SQL given as text (query_to_xml,
DuckDB's query()). A function missing here is refused: add it only after reading what it does.

Names are lower case, as each server folds unquoted function names. Besides true functions, the
lists hold the words sqlglot renders as function-like syntax (CASE, CAST, EXTRACT, CURRENT_DATE…).
"""
from __future__ import annotations


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Syntax that looks like a call in sqlglot's output; read-only in every dialect.
_SYNTAX = _names("""
    case cast try_cast exists extract coalesce nullif greatest least current_date current_time current_timestamp
    localtime localtimestamp interval
""")

# Standard aggregates and window functions (each dialect adds its own below).
_AGGREGATES = _names("""
    count sum min max avg
""")
_WINDOWS = _names("""
    row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value
""")

POSTGRES = _SYNTAX | _AGGREGATES | _WINDOWS | _names("""
    abs cbrt ceil ceiling degrees div exp factorial floor gcd lcm ln log log10 min_scale mod pi power
    radians round scale sign sqrt trim_scale trunc width_bucket random
    acos acosd asin asind atan atand atan2 atan2d cos cosd cot cotd sin sind tan tand
    sinh cosh tanh asinh acosh atanh
    bit_length char_length character_length lower octet_length overlay position substring trim upper
    ascii btrim chr concat concat_ws format initcap left length lpad ltrim md5 parse_ident quote_ident
    quote_literal quote_nullable regexp_count regexp_instr regexp_like regexp_match regexp_matches
    regexp_replace regexp_split_to_array regexp_split_to_table regexp_substr repeat replace reverse right
    rpad rtrim split_part starts_with string_to_array string_to_table strpos substr to_ascii to_hex
    translate unistr normalize convert convert_from convert_to encode decode get_bit get_byte
    bit_count sha224 sha256 sha384 sha512 string_agg
    to_char to_date to_number to_timestamp
    age clock_timestamp date_bin date_part date_trunc isfinite justify_days justify_hours
    justify_interval make_date make_interval make_time make_timestamp make_timestamptz now
    statement_timestamp timeofday transaction_timestamp timezone
    array_agg array_append array_cat array_dims array_fill array_length array_lower array_ndims
    array_position array_positions array_prepend array_remove array_replace array_to_string array_upper
    cardinality trim_array unnest generate_series generate_subscripts array
    bool_and bool_or every bit_and bit_or bit_xor json_agg jsonb_agg json_object_agg jsonb_object_agg
    corr covar_pop covar_samp regr_avgx regr_avgy regr_count regr_intercept regr_r2 regr_slope regr_sxx
    regr_sxy regr_syy stddev stddev_pop stddev_samp variance var_pop var_samp mode percentile_cont
    percentile_disc grouping
    to_json to_jsonb array_to_json row_to_json json_build_array jsonb_build_array json_build_object
    jsonb_build_object json_object jsonb_object json_array_length jsonb_array_length json_each jsonb_each
    json_each_text jsonb_each_text json_extract_path jsonb_extract_path json_extract_path_text
    jsonb_extract_path_text json_object_keys jsonb_object_keys json_array_elements jsonb_array_elements
    json_array_elements_text jsonb_array_elements_text json_typeof jsonb_typeof json_strip_nulls
    jsonb_strip_nulls jsonb_set jsonb_set_lax jsonb_insert jsonb_pretty jsonb_path_exists
    jsonb_path_match jsonb_path_query jsonb_path_query_array jsonb_path_query_first json_populate_record
    jsonb_populate_record json_to_record jsonb_to_record json_to_recordset jsonb_to_recordset
    num_nonnulls num_nulls
    gen_random_uuid
    host hostmask masklen netmask network broadcast family abbrev inet_merge inet_same_family
    area center diameter height width length npoints pclose popen radius box circle line lseg path
    point polygon
    range_merge lower_inc upper_inc lower_inf upper_inf isempty multirange int4range int8range numrange
    tsrange tstzrange daterange
    to_tsvector to_tsquery plainto_tsquery phraseto_tsquery websearch_to_tsquery ts_rank ts_rank_cd
    ts_headline setweight strip numnode querytree
    current_setting current_database current_schema current_schemas current_user session_user user
    current_catalog version pg_typeof format_type col_description obj_description pg_get_viewdef
    pg_get_constraintdef pg_get_indexdef pg_table_is_visible has_table_privilege has_schema_privilege
    has_column_privilege to_regclass to_regtype
""")

MYSQL = _SYNTAX | _AGGREGATES | _WINDOWS | _names("""
    abs acos asin atan atan2 ceil ceiling conv cos cot crc32 degrees div exp floor ln log log10 log2 mod
    oct pi pow power radians rand round sign sin sqrt tan truncate match regexp_like
    ascii bin bit_length char char_length character_length chr concat concat_ws elt export_set field
    find_in_set format from_base64 hex insert instr lcase left length locate lower lpad ltrim make_set
    mid octet_length ord position quote regexp_instr regexp_replace regexp_substr repeat replace reverse
    right rpad rtrim soundex space strcmp substr substring substring_index to_base64 trim ucase unhex
    upper weight_string natural_sort_key sformat
    md5 sha sha1 sha2 compress uncompress uncompressed_length random_bytes
    adddate addtime convert_tz curdate curtime current_date current_time current_timestamp date
    date_add date_format date_sub datediff day dayname dayofmonth dayofweek dayofyear from_days
    from_unixtime get_format hour last_day localtime localtimestamp makedate maketime microsecond
    minute month monthname now period_add period_diff quarter sec_to_time second str_to_date subdate
    subtime sysdate time time_format time_to_sec timediff timestamp timestampadd timestampdiff to_days
    to_seconds unix_timestamp utc_date utc_time utc_timestamp week weekday weekofyear year yearweek
    if ifnull isnull nvl nvl2 interval
    bit_and bit_or bit_xor bit_count group_concat json_arrayagg json_objectagg std stddev stddev_pop
    stddev_samp var_pop var_samp variance median percentile_cont percentile_disc
    json_array json_array_append json_array_insert json_compact json_contains json_contains_path
    json_depth json_detailed json_exists json_extract json_insert json_keys json_length json_loose
    json_merge json_merge_patch json_merge_preserve json_object json_overlaps json_query json_quote
    json_remove json_replace json_search json_set json_type json_unquote json_valid json_value
    json_table
    inet_aton inet_ntoa inet6_aton inet6_ntoa is_ipv4 is_ipv6 uuid
    charset coercibility collation database schema version
""")

SQLITE = _SYNTAX | _AGGREGATES | _WINDOWS | _names("""
    abs char coalesce concat concat_ws format glob hex ifnull iif instr length like likelihood likely
    lower ltrim max min nullif octet_length printf quote random randomblob replace round rtrim sign
    soundex substr substring trim typeof unhex unicode unlikely upper zeroblob
    date time datetime julianday unixepoch strftime timediff
    avg count group_concat string_agg sum total
    acos acosh asin asinh atan atan2 atanh ceil ceiling cos cosh degrees exp floor ln log log10 log2 mod
    pi pow power radians sin sinh sqrt tan tanh trunc
    json json_array json_array_length json_error_position json_extract json_insert json_object json_patch
    json_remove json_replace json_set json_type json_valid json_quote json_group_array
    json_group_object json_each json_tree jsonb jsonb_array jsonb_extract jsonb_insert jsonb_object
    jsonb_patch jsonb_remove jsonb_replace jsonb_set jsonb_group_array jsonb_group_object
    sqlite_version
""")

# DuckDB-file sources. No file/URL readers or scanners, no getenv, no duckdb_* metadata functions
# (duckdb_secrets, duckdb_settings), no current_setting, no query()/query_table(), no sequences.
DUCKDB = _SYNTAX | _AGGREGATES | _WINDOWS | _names("""
    abs acos acosh add asin asinh atan atan2 atanh bit_count cbrt ceil ceiling cos cosh cot degrees
    divide even exp factorial floor fmod gamma gcd greatest_common_divisor isfinite isinf isnan lcm
    least_common_multiple lgamma ln log log10 log2 multiply nextafter pi pow power radians round
    round_even sign signbit sin sinh sqrt subtract tan tanh trunc xor random
    array_extract array_slice ascii bar bit_length char_length character_length chr concat concat_ws
    contains ends_with format formatreadablesize format_bytes from_base64 hash ilike_escape instr
    jaccard jaro_similarity jaro_winkler_similarity damerau_levenshtein hamming editdist3 levenshtein
    left length length_grapheme like_escape lower lcase lpad ltrim md5 md5_number mismatches nfc_normalize
    not_ilike_escape not_like_escape ord parse_dirname parse_dirpath parse_filename parse_path position
    prefix printf regexp_escape regexp_extract regexp_extract_all regexp_full_match regexp_matches
    regexp_replace regexp_split_to_array regexp_split_to_table repeat replace reverse right rpad rtrim
    sha1 sha256 split split_part starts_with str_split str_split_regex string_split string_split_regex
    string_to_array strip_accents strlen strpos substr substring substring_grapheme suffix to_base64
    to_hex translate trim ucase unicode upper url_decode url_encode base64 encode decode
    age century current_date current_localtime current_localtimestamp date_add date_diff date_part
    date_sub date_trunc datediff datepart datesub datetrunc day dayname dayofmonth dayofweek dayofyear
    decade epoch epoch_ms epoch_ns epoch_us era extract get_current_time get_current_timestamp hour
    isodow isoyear julian last_day make_date make_time make_timestamp make_timestamptz microsecond
    millennium millisecond minute month monthname nanosecond now quarter second strftime strptime
    time_bucket timezone timezone_hour timezone_minute to_centuries to_days to_decades to_hours
    to_microseconds to_millennia to_milliseconds to_minutes to_months to_seconds to_timestamp to_weeks
    to_years today transaction_timestamp try_strptime week weekday weekofyear year yearweek
    to_quarters
    any_value approx_count_distinct approx_quantile arbitrary arg_max arg_max_null arg_min arg_min_null
    argmax argmin array_agg avg bit_and bit_or bit_xor bitstring_agg bool_and bool_or corr count
    count_star covar_pop covar_samp entropy favg first fsum geomean geometric_mean histogram kahan_sum
    kurtosis kurtosis_pop last list mad max max_by mean median min min_by mode product quantile
    quantile_cont quantile_disc regr_avgx regr_avgy regr_count regr_intercept regr_r2 regr_slope regr_sxx
    regr_sxy regr_syy reservoir_quantile sem skewness stddev stddev_pop stddev_samp string_agg sum
    sumkahan var_pop var_samp variance group_concat listagg bit_xor grouping grouping_id
    array_aggr array_aggregate array_append array_apply array_cat array_concat array_contains
    array_cosine_similarity array_cross_product array_distance array_distinct array_dot_product
    array_filter array_grade_up array_has array_has_all array_has_any array_indexof array_inner_product
    array_intersect array_length array_pop_back array_pop_front array_position array_prepend
    array_push_back array_push_front array_reduce array_resize array_reverse array_reverse_sort
    array_select array_sort array_to_string array_transform array_unique array_value array_where
    array_zip flatten generate_series generate_subscripts len list_aggr list_aggregate list_any_value
    list_append list_apply list_avg list_bool_and list_bool_or list_cat list_concat list_contains
    list_cosine_similarity list_count list_distance list_distinct list_dot_product list_element
    list_extract list_filter list_first list_grade_up list_has list_has_all list_has_any list_indexof
    list_inner_product list_intersect list_kurtosis list_last list_mad list_max list_median list_min
    list_mode list_pack list_position list_prepend list_product list_reduce list_resize list_reverse
    list_reverse_sort list_select list_sem list_skewness list_slice list_sort list_stddev_pop
    list_stddev_samp list_string_agg list_sum list_transform list_unique list_value list_var_pop
    list_var_samp list_where list_zip range repeat_row unnest
    struct_extract struct_insert struct_pack row struct_concat map map_concat map_contains map_entries
    map_extract map_from_entries map_keys map_values cardinality element_at union_extract union_tag
    union_value enum_code enum_first enum_last enum_range enum_range_boundary
    json json_array json_array_length json_contains json_exists json_extract json_extract_path
    json_extract_path_text json_extract_string json_group_array json_group_object json_group_structure
    json_keys json_merge_patch json_object json_pretty json_quote json_structure json_transform
    json_transform_strict json_type json_valid json_value from_json from_json_strict to_json
    array_to_json row_to_json
    ifnull if nullif coalesce typeof alias constant_or_null error try gen_random_uuid uuid uuidv4
    uuidv7 uuid_extract_timestamp uuid_extract_version
    row_number rank rank_dense dense_rank percent_rank cume_dist ntile lag lead first_value last_value
    nth_value fill
""")

READ_ONLY_FUNCTIONS: dict[str, frozenset[str]] = {
    "postgres": POSTGRES,
    "mysql": MYSQL,
    "sqlite": SQLITE,
    "duckdb": DUCKDB,
}
