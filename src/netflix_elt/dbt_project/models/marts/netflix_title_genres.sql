{{ netflix_bridge('listed_in') }}
