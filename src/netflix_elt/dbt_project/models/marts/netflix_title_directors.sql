{{ netflix_bridge('director') }}
